import { defineExporter } from '../../src/component.js';
import { configSchema } from './config.js';
import { DebugExporter } from './debug.js';
import { metadata } from './metadata.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: ['meter_events', 'llm_calls', 'spans'],
  configSchema,
  create: (s) => new DebugExporter(s.config, s),
});

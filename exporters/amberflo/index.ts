import { defineExporter } from '../../src/component.js';
import { amberfloExporter } from './amberflo.js';
import { configSchema, validate } from './config.js';
import { metadata } from './metadata.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: 'meter_events',
  configSchema,
  validate,
  create: (s) => amberfloExporter(s.config, s),
});

import { defineExporter } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { metadata } from './metadata.js';
import { OtlpExporter } from './otlp.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: ['spans', 'logs'],
  configSchema,
  validate,
  create: (s) => new OtlpExporter(s.config, s),
});

import { defineFactory } from '../../src/component.js';
import { configSchema, defaultConfig, validate, type OtlpExporterConfig } from './config.js';
import { OtlpExporter } from './otlp.js';

export default defineFactory({
  kind: 'exporter',
  type: 'otlp',
  description: 'Forwards spans and logs unchanged to another OTLP/HTTP endpoint (best-effort: own bounded queue, never slows metering).',
  stability: 'beta',
  consumes: ['spans', 'logs'],
  configSchema,
  defaultConfig,
  validate: (c: OtlpExporterConfig) => validate(c),
  create: (s) => new OtlpExporter(s.config as OtlpExporterConfig, s),
});

import { defineFactory } from '../../src/component.js';
import { dormantExporter, isActive } from '../../src/output/when.js';
import { amberfloExporter } from './amberflo.js';
import { configSchema, defaultConfig, validate, type AmberfloExporterConfig } from './config.js';

export default defineFactory({
  kind: 'exporter',
  type: 'amberflo',
  description: "POSTs meter records to Amberflo's ingest API (gzip, ≤1000 records/1 MB, retries, dead-letter folder).",
  stability: 'beta',
  consumes: 'meter_events',
  configSchema,
  defaultConfig,
  validate: (c: AmberfloExporterConfig) => validate(c),
  create(s) {
    const c = s.config as AmberfloExporterConfig;
    if (!isActive(c.when)) return dormantExporter(s.logger, c.when!);
    return amberfloExporter(c, s);
  },
});

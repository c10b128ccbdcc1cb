import { defineExporter } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { createS3Exporter } from './exporter.js';
import { metadata } from './metadata.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: 'meter_events',
  configSchema,
  validate,
  create: (s) => createS3Exporter(s.config, s),
  // The reader (and the AWS SDK) is imported only by `spanmeter report` / `reconcile`.
  objectReader: async (c) => new (await import('./reader.js')).S3Reader(c),
});

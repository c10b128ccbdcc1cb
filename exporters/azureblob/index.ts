import { defineExporter } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { createAzureBlobExporter } from './exporter.js';
import { metadata } from './metadata.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: 'meter_events',
  configSchema,
  validate,
  create: (s) => createAzureBlobExporter(s.config, s),
  // The reader (and the Azure SDK) is imported only by `spanmeter report` / `reconcile`.
  objectReader: async (c) => new (await import('./reader.js')).AzureBlobReader(c),
});

import { defineExporter } from '../../src/component.js';
import { DirectoryReader } from '../../src/report/objects.js';
import { joinKey } from '../../src/output/encode.js';
import { configSchema, validate } from './config.js';
import { createFileExporter } from './file.js';
import { metadata } from './metadata.js';

export default defineExporter({
  ...metadata,
  kind: 'exporter',
  consumes: 'meter_events',
  configSchema,
  validate,
  create: (s) => createFileExporter(s.config, s),
  objectReader: (c) => new DirectoryReader(c.directory, joinKey(c.path)),
});

import { defineProcessor } from '../../src/component.js';
import { BatchProcessor } from './batch.js';
import { configSchema, validate } from './config.js';
import { metadata } from './metadata.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  validate,
  create: (s, next) => new BatchProcessor(s.config, s, next),
});

import { defineFactory } from '../../src/component.js';
import { BatchProcessor } from './batch.js';
import { configSchema, defaultConfig, validate, type BatchConfig } from './config.js';

export default defineFactory({
  kind: 'processor',
  type: 'batch',
  description: 'Cuts meter records into batches (size, bytes, timeout; one open batch per partition) with a bounded retry buffer.',
  stability: 'beta',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  defaultConfig,
  validate: (c: BatchConfig) => validate(c),
  create: (s, next) => new BatchProcessor(s.config as BatchConfig, s, next),
});

import { defineProcessor } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { metadata } from './metadata.js';
import { TransformProcessor } from './transform.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  validate,
  create: (s, next) => new TransformProcessor(s.config, next),
});

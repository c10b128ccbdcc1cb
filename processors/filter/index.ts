import { defineProcessor } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { FilterProcessor } from './filter.js';
import { metadata } from './metadata.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  validate,
  create: (s, next) => new FilterProcessor(s.config, s, next),
});

import { defineProcessor } from '../../src/component.js';
import { AmberfloProcessor } from './amberflo.js';
import { configSchema } from './config.js';
import { metadata } from './metadata.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'llm_calls',
  produces: 'meter_events',
  configSchema,
  create: (s, next) => new AmberfloProcessor(s.config, s, next),
});

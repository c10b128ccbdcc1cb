import { defineProcessor } from '../../src/component.js';
import { configSchema } from './config.js';
import { LitellmProcessor } from './litellm.js';
import { metadata } from './metadata.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'spans',
  produces: 'llm_calls',
  configSchema,
  create: (s, next) => new LitellmProcessor(s.config, s, next),
});

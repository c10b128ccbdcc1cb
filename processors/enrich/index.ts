import { defineProcessor } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { EnrichProcessor } from './enrich.js';
import { metadata } from './metadata.js';

export default defineProcessor({
  ...metadata,
  kind: 'processor',
  consumes: 'llm_calls',
  produces: 'llm_calls',
  // The catalogue can change between a crash and the replay: log what enrichment decided.
  logAfter: true,
  configSchema,
  validate,
  create: (s, next) => new EnrichProcessor(s.config, s, next),
});

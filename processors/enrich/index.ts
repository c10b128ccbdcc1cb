/**
 * `enrich` (llm_calls → llm_calls): fills the facts spans do not carry — team alias and metadata,
 * key alias / team / user / metadata, the deployment's provider, model-map key, api_base and
 * region — from LiteLLM itself (admin API or database) or from a catalogue file. See README.md.
 */
import { type CreateSettings, defineFactory } from '../../src/component.js';
import { configSchema, defaultConfig, validate, type EnrichConfig } from './config.js';
import { EnrichProcessor } from './processor.js';

export default defineFactory({
  kind: 'processor',
  type: 'enrich',
  description: 'Fills team, key and model facts into LLM calls from the LiteLLM admin API, its database or a catalogue file (cached, bounded, never blocking longer than a budget).',
  stability: 'alpha',
  consumes: 'llm_calls',
  produces: 'llm_calls',
  // The catalogue can change between a crash and the replay: log what enrichment decided.
  logAfter: true,
  configSchema,
  defaultConfig,
  validate: (c: EnrichConfig) => validate(c),
  create: (settings, next) => new EnrichProcessor(settings as CreateSettings<EnrichConfig>, next),
});

/**
 * Config of the `enrich` processor, declared once: schema, defaults, docs and type. The settings
 * of each catalogue source are declared with the source (integrations/litellm/catalogue/).
 */
import type { ConfigProblem } from '../../src/component.js';
import { Duration, Section, Settings, Type, type Static } from '../../src/config/declare.js';
import { litellmApiSettings } from '../../integrations/litellm/catalogue/admin-api.js';
import { litellmDbSettings } from '../../integrations/litellm/catalogue/database.js';
import { fileSettings } from '../../integrations/litellm/catalogue/file.js';

export const configSchema = Settings(
  {
    source: Type.Enum(['litellm_api', 'litellm_db', 'file'], {
      default: 'litellm_api',
      description: "Where team, key and model facts come from: the LiteLLM admin API, LiteLLM's PostgreSQL (read-only), or a catalogue file.",
    }),
    litellm_api: litellmApiSettings,
    litellm_db: litellmDbSettings,
    file: fileSettings,
    team: Section(
      {
        enabled: Type.Boolean({ default: true, description: 'Look teams up.' }),
        metadata_keys: Type.Array(Type.String(), {
          default: [],
          description: 'Team metadata keys copied into the call (`teamMetadata`); empty = all keys. Keep it short to bound memory.',
        }),
      },
      { description: 'Team lookup by team id (alias, metadata).' },
    ),
    key: Section(
      { enabled: Type.Boolean({ default: true, description: 'Look keys up.' }) },
      { description: 'Virtual key lookup by key hash (alias, team, user, org, metadata).' },
    ),
    model: Section(
      {
        enabled: Type.Boolean({ default: true, description: 'Look deployments up.' }),
        model_map: Type.Enum(['base_model', 'catalogue', 'span'], {
          default: 'base_model',
          description:
            "Where modelMapKey (→ sku) / modelMapProvider (→ platform) of SPAN records come from (spans never carry LiteLLM's model map; the span path guesses gen_ai.response.model / gen_ai.system). `base_model`: a configured model_info.base_model, else the span guess, else model_info.key; provider: model_info.litellm_provider, else the guess. `catalogue`: model_info.key (else base_model) and litellm_provider first. `span`: the guess first, the catalogue only fills gaps. SLO records keep their own model map and are only filled where it is missing.",
        }),
        model_map_on_errors: Type.Boolean({
          default: false,
          description:
            'Also fill the model map of failed calls. Off by default: LiteLLM logs no model map for failures, so the callback reports sku/platform `unknown` there.',
        }),
      },
      { description: 'Deployment lookup by hidden_params.model_id (provider, model map key, api_base, region).' },
    ),
    cache: Section(
      {
        max_entries: Type.Integer({
          minimum: 1,
          default: 100_000,
          description: 'Maximum entries per lookup kind (LRU eviction beyond it), negative entries included.',
        }),
        ttl: Duration({ default: '1h', description: 'Age after which an entry is stale: still used, but re-fetched in the background.' }),
        negative_ttl: Duration({ default: '5m', description: 'How long an id the source does not know is remembered as unknown.' }),
        refresh_interval: Duration({ default: '5m', description: 'Interval of full re-listing of the catalogue.' }),
        retry_interval: Duration({ default: '15s', description: 'Interval of the next listing attempt after a failed one.' }),
        warm: Type.Boolean({ default: true, description: 'List the whole catalogue at start (and re-list it every refresh_interval).' }),
        warm_timeout: Duration({ default: '10s', description: 'How long start waits for the warm-up; after that it continues in the background.' }),
      },
      { description: 'In-memory catalogue cache.' },
    ),
    miss: Section(
      {
        rate: Type.Number({ exclusiveMinimum: 0, default: 20, description: 'Maximum on-demand lookups per second, per lookup kind (token bucket).' }),
        burst: Type.Integer({ minimum: 1, default: 20, description: 'Token bucket size.' }),
        max_in_flight: Type.Integer({ minimum: 1, default: 8, description: 'Maximum concurrent on-demand lookups per kind.' }),
      },
      { description: 'On-demand lookups of ids not in the cache.' },
    ),
    budget: Duration({
      default: '50ms',
      description: 'on_miss: pass — the longest a batch waits for on-demand lookups; then records go on with what is known.',
    }),
    on_miss: Type.Enum(['pass', 'wait'], {
      default: 'pass',
      description:
        '`pass`: never hold records longer than `budget`; unknown facts stay null (dimension `unknown`). `wait`: hold the batch up to `wait_timeout`; if a lookup is still unresolved because the source fails, refuse the batch with back-pressure (429 to the sender, who retries).',
    }),
    wait_timeout: Duration({ default: '5s', description: 'on_miss: wait — the longest a batch waits before it is refused with back-pressure.' }),
  },
  { description: 'Fills team, key and model facts into LLM calls from the LiteLLM admin API, its database or a catalogue file.' },
);

export type EnrichConfig = Static<typeof configSchema>;
export type SourceType = EnrichConfig['source'];
export type OnMiss = EnrichConfig['on_miss'];
export type ModelMapMode = EnrichConfig['model']['model_map'];

/** Checks a schema cannot express. */
export function validate(c: EnrichConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.source === 'file' && !c.file.path) problems.push({ path: 'file.path', message: 'source "file" needs file.path' });
  if (c.source === 'litellm_api') {
    try {
      const u = new URL(c.litellm_api.base_url);
      if (u.username || u.password)
        problems.push({ path: 'litellm_api.base_url', message: 'must not contain credentials; put the key in the variable named by api_key_env' });
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ path: 'litellm_api.base_url', message: 'must be an http(s) URL' });
    } catch {
      problems.push({ path: 'litellm_api.base_url', message: 'not a URL' });
    }
  }
  if (!c.team.enabled && !c.key.enabled && !c.model.enabled) problems.push({ path: '', message: 'all three lookups (team, key, model) are disabled' });
  return problems;
}

/**
 * Config of the `enrich` processor: its JSON Schema (every key described, `spanmeter components`
 * prints them), defaults and the parsed, typed form the code works with.
 */
import { parseDuration } from '../../src/config/duration.js';
import type { ConfigProblem, JSONSchema } from '../../src/component.js';

export type SourceType = 'litellm_api' | 'litellm_db' | 'file';
export type OnMiss = 'pass' | 'wait';
export type ModelMapMode = 'base_model' | 'catalogue' | 'span';

export interface EnrichConfig {
  source: SourceType;
  litellm_api: {
    base_url: string;
    api_key_env: string;
    request_timeout: string;
    page_size: number;
    team_list: 'v2' | 'v1';
  };
  litellm_db: {
    url_env: string;
    query_timeout: string;
    page_size: number;
    max_connections: number;
  };
  file: {
    path: string;
    format: 'auto' | 'yaml' | 'json' | 'csv';
    watch_interval: string;
  };
  team: { enabled: boolean; metadata_keys: string[] };
  key: { enabled: boolean };
  model: { enabled: boolean; model_map: ModelMapMode; model_map_on_errors: boolean };
  cache: {
    max_entries: number;
    ttl: string;
    negative_ttl: string;
    refresh_interval: string;
    retry_interval: string;
    warm: boolean;
    warm_timeout: string;
  };
  miss: { rate: number; burst: number; max_in_flight: number };
  budget: string;
  on_miss: OnMiss;
  wait_timeout: string;
}

const dur = (description: string) => ({ type: 'string', format: 'duration', description });

export const configSchema: JSONSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    source: {
      type: 'string',
      enum: ['litellm_api', 'litellm_db', 'file'],
      description: 'Where team, key and model facts come from: the LiteLLM admin API, LiteLLM\'s PostgreSQL (read-only), or a catalogue file.',
    },
    litellm_api: {
      type: 'object',
      additionalProperties: false,
      description: 'Settings of source `litellm_api`.',
      properties: {
        base_url: { type: 'string', description: 'Base URL of the LiteLLM proxy, e.g. http://litellm:4000 (no secrets in it).' },
        api_key_env: {
          type: 'string',
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description: 'NAME of the environment variable holding the master or a read-only admin key (sent as Authorization: Bearer). The key itself never appears in config, logs or errors.',
        },
        request_timeout: dur('Timeout of one HTTP request to the admin API.'),
        page_size: { type: 'integer', minimum: 1, maximum: 100, description: 'Page size when listing teams (/v2/team/list page_size) and keys (/key/list size); LiteLLM caps both at 100.' },
        team_list: { type: 'string', enum: ['v2', 'v1'], description: '`v2`: paginated GET /v2/team/list; `v1`: GET /team/list (one unpaginated array, for old proxies).' },
      },
    },
    litellm_db: {
      type: 'object',
      additionalProperties: false,
      description: 'Settings of source `litellm_db`.',
      properties: {
        url_env: {
          type: 'string',
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description: 'NAME of the environment variable holding the PostgreSQL URL (postgresql://user:password@host:5432/litellm). Use a read-only role; sessions are also opened read-only.',
        },
        query_timeout: dur('statement_timeout of every query (and the connect timeout).'),
        page_size: { type: 'integer', minimum: 1, maximum: 100000, description: 'Rows per query when listing a table (keyset pagination on the primary key).' },
        max_connections: { type: 'integer', minimum: 1, maximum: 16, description: 'Size of the connection pool.' },
      },
    },
    file: {
      type: 'object',
      additionalProperties: false,
      description: 'Settings of source `file`.',
      properties: {
        path: { type: 'string', description: 'Catalogue file (YAML, JSON or CSV; see README). Reloaded when it changes.' },
        format: { type: 'string', enum: ['auto', 'yaml', 'json', 'csv'], description: '`auto` picks by extension (.yaml/.yml, .json, .csv).' },
        watch_interval: dur('How often the file is checked for changes (mtime and size).'),
      },
    },
    team: {
      type: 'object',
      additionalProperties: false,
      description: 'Team lookup by team id (alias, metadata).',
      properties: {
        enabled: { type: 'boolean', description: 'Look teams up.' },
        metadata_keys: {
          type: 'array',
          items: { type: 'string' },
          description: 'Team metadata keys copied into the call (`teamMetadata`); empty = all keys. Keep it short to bound memory.',
        },
      },
    },
    key: {
      type: 'object',
      additionalProperties: false,
      description: 'Virtual key lookup by key hash (alias, team, user, org, metadata).',
      properties: { enabled: { type: 'boolean', description: 'Look keys up.' } },
    },
    model: {
      type: 'object',
      additionalProperties: false,
      description: 'Deployment lookup by hidden_params.model_id (provider, model map key, api_base, region).',
      properties: {
        enabled: { type: 'boolean', description: 'Look deployments up.' },
        model_map: {
          type: 'string',
          enum: ['base_model', 'catalogue', 'span'],
          description:
            'Where modelMapKey (→ sku) / modelMapProvider (→ platform) of SPAN records come from (spans never carry LiteLLM\'s model map; the span path guesses gen_ai.response.model / gen_ai.system). `base_model`: a configured model_info.base_model, else the span guess, else model_info.key; provider: model_info.litellm_provider, else the guess. `catalogue`: model_info.key (else base_model) and litellm_provider first. `span`: the guess first, the catalogue only fills gaps. SLO records keep their own model map and are only filled where it is missing.',
        },
        model_map_on_errors: {
          type: 'boolean',
          description: 'Also fill the model map of failed calls. Off by default: LiteLLM logs no model map for failures, so the callback reports sku/platform `unknown` there.',
        },
      },
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      description: 'In-memory catalogue cache.',
      properties: {
        max_entries: { type: 'integer', minimum: 1, description: 'Maximum entries per lookup kind (LRU eviction beyond it), negative entries included.' },
        ttl: dur('Age after which an entry is stale: still used, but re-fetched in the background.'),
        negative_ttl: dur('How long an id the source does not know is remembered as unknown.'),
        refresh_interval: dur('Interval of full re-listing of the catalogue.'),
        retry_interval: dur('Interval of the next listing attempt after a failed one.'),
        warm: { type: 'boolean', description: 'List the whole catalogue at start.' },
        warm_timeout: dur('How long start waits for the warm-up; after that it continues in the background.'),
      },
    },
    miss: {
      type: 'object',
      additionalProperties: false,
      description: 'On-demand lookups of ids not in the cache.',
      properties: {
        rate: { type: 'number', exclusiveMinimum: 0, description: 'Maximum on-demand lookups per second, per lookup kind (token bucket).' },
        burst: { type: 'integer', minimum: 1, description: 'Token bucket size.' },
        max_in_flight: { type: 'integer', minimum: 1, description: 'Maximum concurrent on-demand lookups per kind.' },
      },
    },
    budget: dur('on_miss: pass — the longest a batch waits for on-demand lookups; then records go on with what is known.'),
    on_miss: {
      type: 'string',
      enum: ['pass', 'wait'],
      description: '`pass`: never hold records longer than `budget`; unknown facts stay null (dimension `unknown`). `wait`: hold the batch up to `wait_timeout`; if a lookup is still unresolved because the source fails, refuse the batch with back-pressure (429 to the sender, who retries).',
    },
    wait_timeout: dur('on_miss: wait — the longest a batch waits before it is refused with back-pressure.'),
  },
};

export function defaultConfig(): EnrichConfig {
  return {
    source: 'litellm_api',
    litellm_api: { base_url: 'http://127.0.0.1:4000', api_key_env: 'LITELLM_MASTER_KEY', request_timeout: '5s', page_size: 100, team_list: 'v2' },
    litellm_db: { url_env: 'LITELLM_DATABASE_URL', query_timeout: '5s', page_size: 1000, max_connections: 2 },
    file: { path: '', format: 'auto', watch_interval: '2s' },
    team: { enabled: true, metadata_keys: [] },
    key: { enabled: true },
    model: { enabled: true, model_map: 'base_model', model_map_on_errors: false },
    cache: {
      max_entries: 100_000,
      ttl: '1h',
      negative_ttl: '5m',
      refresh_interval: '5m',
      retry_interval: '15s',
      warm: true,
      warm_timeout: '10s',
    },
    miss: { rate: 20, burst: 20, max_in_flight: 8 },
    budget: '50ms',
    on_miss: 'pass',
    wait_timeout: '5s',
  };
}

export function validate(c: EnrichConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.source === 'file' && !c.file.path) problems.push({ path: 'file.path', message: 'source "file" needs file.path' });
  if (c.source === 'litellm_api') {
    try {
      const u = new URL(c.litellm_api.base_url);
      if (u.username || u.password) problems.push({ path: 'litellm_api.base_url', message: 'must not contain credentials; put the key in the variable named by api_key_env' });
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ path: 'litellm_api.base_url', message: 'must be an http(s) URL' });
    } catch {
      problems.push({ path: 'litellm_api.base_url', message: 'not a URL' });
    }
  }
  if (!c.team.enabled && !c.key.enabled && !c.model.enabled) problems.push({ path: '', message: 'all three lookups (team, key, model) are disabled' });
  return problems;
}

/** Durations in milliseconds, resolved once. */
export interface Timings {
  budgetMs: number;
  waitTimeoutMs: number;
  ttlMs: number;
  negativeTtlMs: number;
  refreshMs: number;
  retryMs: number;
  warmTimeoutMs: number;
}

export function timings(c: EnrichConfig): Timings {
  return {
    budgetMs: parseDuration(c.budget),
    waitTimeoutMs: parseDuration(c.wait_timeout),
    ttlMs: parseDuration(c.cache.ttl),
    negativeTtlMs: parseDuration(c.cache.negative_ttl),
    refreshMs: parseDuration(c.cache.refresh_interval),
    retryMs: parseDuration(c.cache.retry_interval),
    warmTimeoutMs: parseDuration(c.cache.warm_timeout),
  };
}

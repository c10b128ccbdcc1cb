/**
 * Source `litellm_api`: LiteLLM proxy's admin API, authenticated with `Authorization: Bearer`
 * (master key or a read-only admin key, read from the environment).
 *
 * - teams: GET /v2/team/list?page=N&page_size=S → `{teams, total, page, page_size, total_pages}`
 *   (or GET /team/list → array, `team_list: v1`); one: GET /team/info?team_id=ID →
 *   `{team_id, team_info: {...}}`.
 * - keys: GET /key/list?page=N&size=S&return_full_object=true → `{keys: [{token, key_alias, ...}],
 *   total_count, current_page, total_pages}`; one: GET /key/info?key=HASH → `{key, info}` (LiteLLM
 *   removes `token` from `info`).
 * - models: GET /model/info → `{data: [{model_name, litellm_params, model_info: {id, ...}}]}`;
 *   one: GET /model/info?litellm_model_id=ID.
 * A 404 on an `info` call means "unknown id"; 401/403 and everything else are errors.
 */
import { Duration, Section, Type, type Static } from '../../../src/config/declare.js';
import { keyFacts, modelFacts, teamFacts, type FactsOf, type Kind } from './facts.js';
import { SourceError, redact, type Source } from './source.js';

/** The source's settings as a component config declares them (e.g. the enrich processor's `litellm_api`). */
export const litellmApiSettings = Section(
  {
    base_url: Type.String({ default: 'http://127.0.0.1:4000', description: 'Base URL of the LiteLLM proxy, e.g. http://litellm:4000 (no secrets in it).' }),
    api_key_env: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      default: 'LITELLM_MASTER_KEY',
      description:
        'NAME of the environment variable holding the master or a read-only admin key (sent as Authorization: Bearer). The key itself never appears in config, logs or errors.',
    }),
    request_timeout: Duration({ default: '5s', description: 'Timeout of one HTTP request to the admin API.' }),
    page_size: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 100,
      description: 'Page size when listing teams (/v2/team/list page_size) and keys (/key/list size); LiteLLM caps both at 100.',
    }),
    team_list: Type.Enum(['v2', 'v1'], {
      default: 'v2',
      description: '`v2`: paginated GET /v2/team/list; `v1`: GET /team/list (one unpaginated array, for old proxies).',
    }),
  },
  { description: 'Settings of source `litellm_api`.' },
);

export type LitellmApiSettings = Static<typeof litellmApiSettings>;

export interface LitellmApiOptions extends LitellmApiSettings {
  /** The key read from the variable named by `api_key_env` (undefined when unset). */
  apiKey: string | undefined;
  teamMetadataKeys: readonly string[];
}

/** Upper bound on pages per listing, against a proxy that never reports the last page. */
const MAX_PAGES = 10_000;

type Obj = Record<string, unknown>;

export class LitellmApiSource implements Source {
  readonly type = 'litellm_api';
  private readonly base: string;

  constructor(private readonly o: LitellmApiOptions) {
    this.base = o.base_url.replace(/\/+$/, '');
  }

  canList(): boolean {
    return true;
  }

  async list<K extends Kind>(kind: K, signal: AbortSignal): Promise<FactsOf[K][]> {
    const out: unknown[] = [];
    if (kind === 'team') {
      if (this.o.team_list === 'v1') {
        const body = await this.call('/team/list', {}, signal);
        if (!Array.isArray(body)) throw this.invalid('/team/list', 'an array');
        out.push(...body.map((t) => teamFacts(t, this.o.teamMetadataKeys)));
      } else {
        await this.pages('/v2/team/list', 'page_size', 'teams', signal, (items) => out.push(...items.map((t) => teamFacts(t, this.o.teamMetadataKeys))));
      }
    } else if (kind === 'key') {
      await this.pages('/key/list', 'size', 'keys', signal, (items) => out.push(...items.map((k) => keyFacts(k))), {
        return_full_object: 'true',
      });
    } else {
      const body = (await this.call('/model/info', {}, signal)) as Obj | null;
      if (!body || !Array.isArray(body.data)) throw this.invalid('/model/info', 'an object with a "data" array');
      out.push(...body.data.map((m) => modelFacts(m)));
    }
    return out.filter((f) => f !== null) as FactsOf[K][];
  }

  async get<K extends Kind>(kind: K, id: string, signal: AbortSignal): Promise<FactsOf[K] | null> {
    if (kind === 'team') {
      const body = (await this.call('/team/info', { team_id: id }, signal, true)) as Obj | null;
      if (body === null) return null;
      return teamFacts(body.team_info ?? body, this.o.teamMetadataKeys) as FactsOf[K] | null;
    }
    if (kind === 'key') {
      const body = (await this.call('/key/info', { key: id }, signal, true)) as Obj | null;
      if (body === null) return null;
      return keyFacts(body.info ?? body, id) as FactsOf[K] | null;
    }
    const body = (await this.call('/model/info', { litellm_model_id: id }, signal, true)) as Obj | null;
    if (body === null || !Array.isArray(body.data)) return null;
    // Older proxies ignore the filter: pick the deployment by id ourselves.
    for (const m of body.data) {
      const f = modelFacts(m);
      if (f?.modelId === id) return f as FactsOf[K];
    }
    return null;
  }

  async close(): Promise<void> {}

  private async pages(
    path: string,
    sizeParam: string,
    field: string,
    signal: AbortSignal,
    sink: (items: unknown[]) => void,
    extra: Record<string, string> = {},
  ): Promise<void> {
    for (let page = 1; page <= MAX_PAGES; page++) {
      const body = (await this.call(path, { ...extra, page: String(page), [sizeParam]: String(this.o.page_size) }, signal)) as Obj | null; // a JSON null body is possible
      const items = body?.[field];
      if (!body || !Array.isArray(items)) throw this.invalid(path, `an object with a "${field}" array`);
      sink(items);
      const total = typeof body.total_pages === 'number' ? body.total_pages : undefined;
      if (total !== undefined ? page >= total : items.length < this.o.page_size) return;
      if (items.length === 0) return;
    }
  }

  private invalid(path: string, what: string): SourceError {
    return new SourceError(`litellm_api: GET ${path} did not return ${what}`, 'invalid');
  }

  /** GET path?query; JSON body. `notFoundIsNull`: 404 → null. */
  private async call(path: string, query: Record<string, string>, signal: AbortSignal, notFoundIsNull = false): Promise<unknown> {
    if (!this.o.apiKey) throw new SourceError(`litellm_api: environment variable ${this.o.api_key_env} is not set`, 'unauthorized');
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const timeout = AbortSignal.timeout(this.o.request_timeout);
    const where = `GET ${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${this.o.apiKey}`, accept: 'application/json' },
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (e) {
      if (timeout.aborted) throw new SourceError(`litellm_api: ${where} timed out after ${this.o.request_timeout} ms`, 'timeout');
      if (signal.aborted) throw new SourceError(`litellm_api: ${where} aborted`, 'timeout');
      throw new SourceError(`litellm_api: ${where} failed: ${this.safe(causeOf(e))}`, 'unavailable');
    }
    if (res.status === 404 && notFoundIsNull) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      const reason = res.status === 401 || res.status === 403 ? 'unauthorized' : res.status === 408 || res.status === 504 ? 'timeout' : 'unavailable';
      // LiteLLM's 401 body echoes part of the key it received: never keep it.
      const text = reason === 'unauthorized' ? '' : await res.text().catch(() => '');
      if (reason === 'unauthorized') await res.body?.cancel();
      const detail = this.safe(text.slice(0, 200).replace(/\s+/g, ' '));
      throw new SourceError(`litellm_api: ${where} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, reason);
    }
    try {
      return await res.json();
    } catch {
      if (timeout.aborted) throw new SourceError(`litellm_api: ${where} timed out after ${this.o.request_timeout} ms`, 'timeout');
      throw new SourceError(`litellm_api: ${where} returned a body that is not JSON`, 'invalid');
    }
  }

  private safe(s: string): string {
    return redact(s, [this.o.apiKey]);
  }
}

function causeOf(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

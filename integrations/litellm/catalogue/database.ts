/**
 * Source `litellm_db`: LiteLLM's own PostgreSQL, read-only. Reads only the columns enrichment
 * needs from the Prisma tables (quoted, case-sensitive names):
 *
 * - "LiteLLM_TeamTable": team_id TEXT PK, team_alias TEXT, organization_id TEXT, metadata JSONB
 * - "LiteLLM_VerificationToken": token TEXT PK (the key hash), key_alias TEXT, team_id TEXT,
 *   user_id TEXT, organization_id TEXT, metadata JSONB
 * - "LiteLLM_ProxyModelTable": model_id TEXT PK, model_name TEXT, litellm_params JSONB (only
 *   model, custom_llm_provider, api_base, aws_region_name, vertex_location are selected — never
 *   api keys), model_info JSONB (key, base_model, litellm_provider)
 *
 * Sessions are opened with `default_transaction_read_only=on` and a `statement_timeout`; lists
 * use keyset pagination on the primary key. Note: LiteLLM encrypts `litellm_params` values it
 * writes to the database, and models from config.yaml are not in the table at all; encrypted
 * values are recognised and ignored (see facts.ts), so prefer `litellm_api` for models.
 */
import type pg from 'pg';
import { Duration, Section, Type, type Static } from '../../../src/config/declare.js';
import { keyFacts, modelFacts, teamFacts, type FactsOf, type Kind } from './facts.js';
import { SourceError, redact, type Source } from './source.js';

/** The source's settings as a component config declares them (e.g. the enrich processor's `litellm_db`). */
export const litellmDbSettings = Section(
  {
    url_env: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      default: 'LITELLM_DATABASE_URL',
      description:
        'NAME of the environment variable holding the PostgreSQL URL (postgresql://user:password@host:5432/litellm). Use a read-only role; sessions are also opened read-only.',
    }),
    query_timeout: Duration({ default: '5s', description: 'statement_timeout of every query (and the connect timeout).' }),
    page_size: Type.Integer({
      minimum: 1,
      maximum: 100000,
      default: 1000,
      description: 'Rows per query when listing a table (keyset pagination on the primary key).',
    }),
    max_connections: Type.Integer({ minimum: 1, maximum: 16, default: 2, description: 'Size of the connection pool.' }),
  },
  { description: 'Settings of source `litellm_db`.' },
);

export type LitellmDbSettings = Static<typeof litellmDbSettings>;

export interface LitellmDbOptions extends LitellmDbSettings {
  /** The URL read from the variable named by `url_env` (undefined when unset). */
  url: string | undefined;
  teamMetadataKeys: readonly string[];
}

const Q: Record<Kind, { pk: string; select: string }> = {
  team: {
    pk: 'team_id',
    select: 'SELECT team_id, team_alias, organization_id, metadata FROM "LiteLLM_TeamTable"',
  },
  key: {
    pk: 'token',
    select: 'SELECT token, key_alias, team_id, user_id, organization_id, metadata FROM "LiteLLM_VerificationToken"',
  },
  model: {
    pk: 'model_id',
    // Rows written through prisma-client-py may hold the JSON document as a JSONB *string*
    // (model_dump_json()); unwrap those before reading fields.
    select: `SELECT model_id, model_name,
      jsonb_build_object('model', lp->'model', 'custom_llm_provider', lp->'custom_llm_provider',
        'api_base', lp->'api_base', 'aws_region_name', lp->'aws_region_name',
        'vertex_location', lp->'vertex_location') AS litellm_params,
      jsonb_build_object('id', model_id, 'key', mi->'key', 'base_model', mi->'base_model',
        'litellm_provider', mi->'litellm_provider') AS model_info
      FROM (SELECT model_id, model_name,
          CASE WHEN jsonb_typeof(litellm_params) = 'string' THEN (litellm_params #>> '{}')::jsonb ELSE litellm_params END AS lp,
          CASE WHEN jsonb_typeof(model_info) = 'string' THEN (model_info #>> '{}')::jsonb ELSE model_info END AS mi
        FROM "LiteLLM_ProxyModelTable") AS m`,
  },
};

export class LitellmDbSource implements Source {
  readonly type = 'litellm_db';
  private pool?: pg.Pool;
  private secrets: (string | undefined)[];
  private readonly prepared = new WeakSet<pg.PoolClient>();

  constructor(private readonly o: LitellmDbOptions) {
    this.secrets = [o.url];
    try {
      if (o.url) {
        const u = new URL(o.url);
        if (u.password) this.secrets.push(decodeURIComponent(u.password), u.password);
      }
    } catch {
      /* not a URL: pg will complain, redacted */
    }
  }

  canList(): boolean {
    return true;
  }

  /** The pool; the `pg` driver is imported on first use, so pipelines without this source do not load it. */
  private async getPool(): Promise<pg.Pool> {
    if (!this.o.url) throw new SourceError(`litellm_db: environment variable ${this.o.url_env} is not set`, 'unauthorized');
    if (!this.pool) {
      const { default: driver } = await import('pg');
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- another query may have created the pool while the import was awaited
      if (this.pool) return this.pool; // another query created it meanwhile
      this.pool = new driver.Pool({
        connectionString: this.o.url,
        max: this.o.max_connections,
        connectionTimeoutMillis: this.o.query_timeout,
        idleTimeoutMillis: 30_000,
        application_name: 'spanmeter-enrich',
        options: `-c default_transaction_read_only=on -c statement_timeout=${Math.max(1, Math.round(this.o.query_timeout))}`,
      });
      // A connection lost while idle (pool 'error') or while checked out (client 'error') must not
      // crash the process: the query in flight fails (→ SourceError) and the client is discarded.
      this.pool.on('error', () => {});
      this.pool.on('connect', (client) => client.on('error', () => {}));
    }
    return this.pool;
  }

  private convert(kind: Kind, row: Record<string, unknown>): FactsOf[Kind] | null {
    if (kind === 'team') return teamFacts(row, this.o.teamMetadataKeys);
    if (kind === 'key') return keyFacts(row);
    return modelFacts(row);
  }

  async list<K extends Kind>(kind: K, signal: AbortSignal): Promise<FactsOf[K][]> {
    const { pk, select } = Q[kind];
    const out: FactsOf[K][] = [];
    let after: string | null = null;
    for (;;) {
      if (signal.aborted) throw new SourceError('litellm_db: listing aborted', 'timeout');
      const rows: Record<string, unknown>[] = await this.query(`${select} WHERE ($1::text IS NULL OR ${pk} > $1) ORDER BY ${pk} LIMIT $2`, [
        after,
        this.o.page_size,
      ]);
      for (const r of rows) {
        const f = this.convert(kind, r);
        if (f) out.push(f as FactsOf[K]);
      }
      if (rows.length < this.o.page_size) return out;
      after = String(rows[rows.length - 1]![pk]);
    }
  }

  async get<K extends Kind>(kind: K, id: string, signal: AbortSignal): Promise<FactsOf[K] | null> {
    if (signal.aborted) throw new SourceError('litellm_db: lookup aborted', 'timeout');
    const { pk, select } = Q[kind];
    const rows = await this.query(`${select} WHERE ${pk} = $1`, [id]);
    return rows.length ? (this.convert(kind, rows[0]!) as FactsOf[K] | null) : null;
  }

  private async query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    const pool = await this.getPool();
    let client: pg.PoolClient | undefined;
    let broken = false;
    try {
      client = await pool.connect();
      if (!this.prepared.has(client)) {
        // A URL's own `options` replace the ones given to the pool (pg lets the connection string
        // win), so every session is made read-only and time-limited explicitly, once.
        const timeout = Math.max(1, Math.round(this.o.query_timeout));
        await client.query(`SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; SET statement_timeout = ${timeout}`);
        this.prepared.add(client);
      }
      const res = await client.query(sql, params);
      return res.rows as Record<string, unknown>[];
    } catch (e) {
      broken = true;
      const err = e as { code?: string; message?: string };
      const msg = redact(`${err.code ? `${err.code} ` : ''}${err.message ?? String(e)}`, this.secrets);
      const reason =
        err.code === '57014' || /timeout/i.test(err.message ?? '')
          ? 'timeout'
          : err.code === '28P01' || err.code === '28000' || err.code === '42501'
            ? 'unauthorized'
            : err.code === '42P01' || err.code === '42703'
              ? 'invalid'
              : 'unavailable';
      throw new SourceError(`litellm_db: query failed: ${msg}`, reason);
    } finally {
      // A client whose query failed may be dead: destroy it rather than reuse it.
      client?.release(broken);
    }
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.end().catch(() => {});
  }
}

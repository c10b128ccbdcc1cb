/**
 * LiteLLM's spend log read from its PostgreSQL: table "LiteLLM_SpendLogs" (schema.prisma; one row
 * per call, `request_id` the primary key and the call's id). Read-only sessions in UTC, keyset
 * pagination on the ("startTime", request_id) index. `status` (success/failure) exists in newer
 * LiteLLM versions only; without it a call's outcome is unknown.
 */
import type pg from 'pg';
import type { ReferenceCall, ReferenceLog } from '../../../src/report/reconcile.js';

export interface SpendLogDbOptions {
  url: string;
  /** Rows per query (default 5,000). */
  pageSize?: number;
  queryTimeoutMs?: number;
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC: a `timestamp` literal ("startTime" is timestamp(3), UTC). */
/** A row of the query below, as the pg driver returns it (numeric columns may arrive as text). */
interface SpendRow {
  request_id: string;
  st: string;
  start_ms: number;
  team_id: string | null;
  api_key: string | null;
  key_alias: string | null;
  model: string | null;
  call_type: string | null;
  prompt_tokens: number | string | null;
  completion_tokens: number | string | null;
  status: string | null;
}

const pgTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

export class SpendLogDb implements ReferenceLog {
  readonly label: string;
  private pool?: pg.Pool;

  constructor(private readonly o: SpendLogDbOptions) {
    let where = 'PostgreSQL';
    try {
      const u = new URL(o.url);
      where = `postgresql://${u.host}${u.pathname}`;
    } catch {
      /* pg reports a bad URL */
    }
    this.label = `LiteLLM_SpendLogs at ${where}`;
  }

  private async getPool(): Promise<pg.Pool> {
    if (this.pool) return this.pool;
    const { default: pgm } = await import('pg');
    const timeout = this.o.queryTimeoutMs ?? 60_000;
    this.pool = new pgm.Pool({
      connectionString: this.o.url,
      max: 1,
      connectionTimeoutMillis: 10_000,
      options: `-c default_transaction_read_only=on -c statement_timeout=${timeout} -c TimeZone=UTC`,
    });
    return this.pool;
  }

  async *calls(fromMs: number, toMs: number): AsyncIterable<ReferenceCall[]> {
    const pool = await this.getPool();
    const cols = await pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'LiteLLM_SpendLogs' AND table_schema = ANY (current_schemas(false))`,
    );
    if (!cols.rows.length)
      throw new Error(`${this.label}: table "LiteLLM_SpendLogs" not found (is this LiteLLM's database, and does the user see its schema?)`);
    const has = new Set(cols.rows.map((r) => r.column_name));
    const status = has.has('status') ? 'status' : 'NULL::text';
    const size = this.o.pageSize ?? 5_000;
    const sql = `SELECT request_id, "startTime"::text AS st, (EXTRACT(EPOCH FROM "startTime") * 1000)::float8 AS start_ms,
        team_id, api_key, metadata->>'user_api_key_alias' AS key_alias, model, call_type, prompt_tokens, completion_tokens, ${status} AS status
      FROM "LiteLLM_SpendLogs"
      WHERE "startTime" >= $1::timestamp AND "startTime" < $2::timestamp AND ("startTime", request_id) > ($3::timestamp, $4)
      ORDER BY "startTime", request_id LIMIT $5`;
    let after: [string, string] = [pgTime(fromMs - 1), ''];
    for (;;) {
      const res = await pool.query<SpendRow>(sql, [pgTime(fromMs), pgTime(toMs), after[0], after[1], size]);
      if (!res.rows.length) return;
      yield res.rows.map((row): ReferenceCall => ({
        id: row.request_id,
        startTimeMs: Math.round(row.start_ms),
        team: row.team_id || null,
        key: row.key_alias || row.api_key || null,
        model: row.model || null,
        promptTokens: Number(row.prompt_tokens) || 0,
        completionTokens: Number(row.completion_tokens) || 0,
        failed: row.status == null || row.status === '' ? null : row.status !== 'success',
        callType: row.call_type || null,
      }));
      const last = res.rows[res.rows.length - 1]!; // not empty: checked above
      after = [last.st, last.request_id];
      if (res.rows.length < size) return;
    }
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}

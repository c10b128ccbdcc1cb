/**
 * LiteLLM's spend log read through its admin API: GET /spend/logs/v2 (older proxies:
 * /spend/logs/ui, the same contract), `start_date` / `end_date` as `YYYY-MM-DD HH:MM:SS` in UTC,
 * both inclusive, `page` from 1 and `page_size` up to 100; rows newest first; the answer is
 * `{data, total, page, page_size, total_pages}`. Recent proxies stop counting at 10,000 rows
 * (SPEND_LOGS_PAGINATION_COUNT_CAP: `total` then reads 10,000 and `total_is_capped` is true), so
 * `total_pages` is not trusted: pages are read until one comes back short. Offset paging over a
 * table that is being written can shift rows between pages, so the range is read in windows of an
 * hour and a window whose (uncapped) `total` changes while it is read is read again.
 */
import type { ReferenceCall, ReferenceLog } from '../../../src/report/reconcile.js';

export interface SpendLogApiOptions {
  baseUrl: string;
  apiKey: string | undefined;
  /** Rows per page (LiteLLM allows 1 to 100; default 100). */
  pageSize?: number;
  requestTimeoutMs?: number;
  /** Window read at once (default one hour). */
  windowMs?: number;
}

const PATHS = ['/spend/logs/v2', '/spend/logs/ui'];
const MAX_PAGES = 100_000;
const WINDOW_TRIES = 3;

type Row = Record<string, unknown>;

/** `YYYY-MM-DD HH:MM:SS` (UTC), LiteLLM's `start_date` / `end_date` format. */
const liteTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** A LiteLLM timestamp (ISO, with or without a zone; FastAPI writes naive UTC datetimes without one) in ms. */
export function parseLiteLLMTime(v: unknown): number {
  if (typeof v !== 'string' || !v) return NaN;
  const s = /[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
  return Date.parse(s);
}

export class SpendLogApi implements ReferenceLog {
  readonly label: string;
  private readonly base: string;
  private path?: string;

  constructor(private readonly o: SpendLogApiOptions) {
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.label = `LiteLLM spend logs at ${this.base}`;
  }

  private async get(path: string, params: Record<string, string | number>): Promise<{ status: number; body: unknown }> {
    const u = new URL(this.base + path);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    let res: Response;
    try {
      res = await fetch(u, { headers, signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 30_000) });
    } catch (e) {
      // eslint-disable-next-line preserve-caught-error -- the message carries the cause's already; a cause would print it twice in the log
      throw new Error(`${this.label}: GET ${path} failed: ${(e as Error).message}`);
    }
    if (res.status === 401 || res.status === 403)
      throw new Error(
        `${this.label}: GET ${path} answered ${res.status}: the API key is missing or may not read spend logs (a proxy admin or admin viewer key is needed)`,
      );
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* kept as text for the message */
    }
    return { status: res.status, body };
  }

  /** One page; finds which of the paged endpoints the proxy has on the first call. */
  private async page(params: Record<string, string | number>): Promise<{ data: Row[]; total: number }> {
    for (const path of this.path ? [this.path] : PATHS) {
      const { status, body } = await this.get(path, params);
      if (status === 404 && !this.path) continue;
      if (status !== 200) throw new Error(`${this.label}: GET ${path} answered ${status}: ${JSON.stringify(body).slice(0, 300)}`);
      const b = body as { data?: unknown; total?: unknown; total_is_capped?: unknown } | null;
      if (!b || !Array.isArray(b.data)) throw new Error(`${this.label}: GET ${path} did not answer {data: [...], total, ...} (is this a LiteLLM proxy?)`);
      this.path = path;
      return { data: b.data as Row[], total: b.total_is_capped === true ? NaN : Number(b.total ?? NaN) };
    }
    throw new Error(`${this.label}: neither ${PATHS.join(' nor ')} exists (LiteLLM proxy older than the paged spend-log API?)`);
  }

  private async window(fromMs: number, toMs: number): Promise<Row[]> {
    const size = this.o.pageSize ?? 100;
    // Whole seconds, both ends inclusive: neighbouring windows share their bounding second (calls
    // in it come twice and are counted once), so no call between two windows is left out.
    const params = { start_date: liteTime(fromMs), end_date: liteTime(toMs), page_size: size };
    for (let attempt = 1; ; attempt++) {
      const first = await this.page({ ...params, page: 1 });
      const rows = [...first.data];
      let stable = true;
      let last = first.data.length;
      for (let p = 2; last >= size && p <= MAX_PAGES; p++) {
        const next = await this.page({ ...params, page: p });
        rows.push(...next.data);
        last = next.data.length;
        // A capped total (NaN) says nothing; an exact one that moved means the pages shifted.
        if (Number.isFinite(first.total) && Number.isFinite(next.total) && next.total !== first.total) stable = false;
      }
      if (stable || attempt >= WINDOW_TRIES) {
        if (!stable)
          throw new Error(
            `${this.label}: the spend log kept changing while ${params.start_date} to ${params.end_date} was read (${WINDOW_TRIES} tries); reconcile a range that ended longer ago`,
          );
        return rows;
      }
    }
  }

  async *calls(fromMs: number, toMs: number): AsyncIterable<ReferenceCall[]> {
    const step = this.o.windowMs ?? 3_600_000;
    const start = Math.floor(fromMs / 1000) * 1000;
    const end = Math.ceil(toMs / 1000) * 1000;
    for (let w = start; w < end; w += step) {
      const rows = await this.window(w, Math.min(end, w + step));
      yield rows.map((row) => {
        const md = (row.metadata && typeof row.metadata === 'object' ? row.metadata : {}) as Row;
        const status = typeof row.status === 'string' && row.status ? row.status : null;
        return {
          id: String(row.request_id),
          startTimeMs: parseLiteLLMTime(row.startTime),
          team: typeof row.team_id === 'string' && row.team_id ? row.team_id : null,
          key: (typeof md.user_api_key_alias === 'string' && md.user_api_key_alias) || (typeof row.api_key === 'string' && row.api_key) || null,
          model: typeof row.model === 'string' && row.model ? row.model : null,
          promptTokens: Number(row.prompt_tokens) || 0,
          completionTokens: Number(row.completion_tokens) || 0,
          failed: status === null ? null : status !== 'success',
          callType: typeof row.call_type === 'string' && row.call_type ? row.call_type : null,
        };
      });
    }
  }
}

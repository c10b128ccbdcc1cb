/**
 * A stand-in for LiteLLM's admin API spend-log listing, with its contract (proxy
 * spend_management_endpoints.py, `ui_view_spend_logs`): GET /spend/logs/v2 (or only /spend/logs/ui,
 * as older proxies), Bearer key, `start_date` and `end_date` required as `%Y-%m-%d %H:%M:%S` (UTC,
 * both inclusive on "startTime"), `page` ≥ 1, `page_size` 1..100 (422 outside), newest first
 * (ties by request_id), answer `{data, total, page, page_size, total_pages, total_is_capped}` with
 * the count capped (SPEND_LOGS_PAGINATION_COUNT_CAP, 10,000 in LiteLLM; smaller in tests). Rows carry datetimes as FastAPI writes
 * prisma's UTC datetimes (`2026-10-03T00:00:00.123000+00:00`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpendRow } from './metering.js';

const FORMAT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const parse = (s: string | null): number | undefined => {
  const m = s ? FORMAT.exec(s) : null;
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
};
const pyIso = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');

export class SpendLogApiStub {
  private server?: Server;
  rows: SpendRow[] = [];
  /** Requests seen: path and query. */
  readonly requests: { path: string; query: Record<string, string> }[] = [];

  constructor(
    readonly apiKey: string,
    readonly paths: string[] = ['/spend/logs/v2', '/spend/logs/ui'],
    readonly countCap = 10_000,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      this.requests.push({ path: u.pathname, query: Object.fromEntries(u.searchParams) });
      if (!this.paths.includes(u.pathname)) {
        send(404, { detail: 'Not Found' });
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
        send(401, { error: { message: 'Authentication Error', type: 'auth_error', code: '401' } });
        return;
      }
      const from = parse(u.searchParams.get('start_date'));
      const to = parse(u.searchParams.get('end_date'));
      if (from === undefined || to === undefined) {
        send(400, { error: { message: 'Start date and end date are required', type: 'bad_request', code: '400' } });
        return;
      }
      const page = Number(u.searchParams.get('page') ?? 1);
      const size = Number(u.searchParams.get('page_size') ?? 50);
      if (!Number.isInteger(page) || page < 1 || !Number.isInteger(size) || size < 1 || size > 100) {
        send(422, { detail: [{ loc: ['query', 'page_size'], msg: 'out of range' }] });
        return;
      }
      const hits = this.rows
        .filter((r) => r.startTime >= from && r.startTime <= to)
        .sort((a, b) => b.startTime - a.startTime || (a.request_id < b.request_id ? 1 : -1));
      const data = hits.slice((page - 1) * size, page * size).map((r) => ({ ...r, startTime: pyIso(r.startTime), endTime: pyIso(r.endTime) }));
      const total = Math.min(hits.length, this.countCap);
      send(200, { data, total, page, page_size: size, total_pages: Math.ceil(total / size), total_is_capped: hits.length > this.countCap });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

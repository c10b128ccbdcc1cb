/**
 * The admin HTTP server (default 127.0.0.1:8888): `/metrics` (Prometheus), `/health/live`,
 * `/health/ready` (200 only when every component has started; JSON detail either way).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STATUS_PAGE } from './status-page.js';

/** What the admin server reports; with workers, the primary answers after asking them (async). */
type Maybe<T> = T | Promise<T>;
export interface HealthSource {
  ready(): Maybe<boolean>;
  detail(): Maybe<Record<string, unknown>>;
  /** Storage and backlog state for `spanmeter status`. */
  status(): Maybe<Record<string, unknown>>;
  /** Recent throughput per component (status page chart). */
  series(): Maybe<unknown>;
  /** Metered usage by team and model, last hour and day. */
  usage(): Maybe<unknown>;
  /** Last warnings and errors. */
  errors(): Maybe<unknown>;
}

export class AdminServer {
  private server?: Server;

  constructor(
    private readonly address: string,
    private readonly registry: { metrics(): Promise<string>; contentType: string },
    private readonly health: HealthSource,
  ) {}

  async start(): Promise<void> {
    const { host, port } = splitHostPort(this.address);
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        json(405, { error: 'method not allowed' });
        return;
      }
      if (url === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (e: unknown) => json(500, { error: (e as Error).message }),
        );
        return;
      }
      if (url === '/health/live' || url === '/health') {
        json(200, { status: 'live' });
        return;
      }
      const answer = (f: () => Promise<[number, unknown]>) =>
        void f().then(
          ([code, body]) => json(code, body),
          (e: unknown) => json(500, { error: (e as Error).message }),
        );
      if (url === '/health/ready') {
        answer(async () => {
          const [ready, detail] = await Promise.all([this.health.ready(), this.health.detail()]);
          return [ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...detail }];
        });
        return;
      }
      if (url === '/status') {
        answer(async () => [200, await this.health.status()]);
        return;
      }
      if (url === '/status/series') {
        answer(async () => [200, await this.health.series()]);
        return;
      }
      if (url === '/status/errors') {
        answer(async () => [200, await this.health.errors()]);
        return;
      }
      if (url === '/status/usage') {
        answer(async () => [200, await this.health.usage()]);
        return;
      }
      if (url === '/' || url === '/status/ui') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(STATUS_PAGE);
        return;
      }
      json(404, {
        error: 'not found',
        paths: ['/', '/metrics', '/health/live', '/health/ready', '/status', '/status/series', '/status/errors', '/status/usage'],
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The bound address (useful with port 0). */
  get boundAddress(): string {
    const a = this.server?.address() as AddressInfo | undefined;
    return a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : this.address;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address "${address}" (expected host:port)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

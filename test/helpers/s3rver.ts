/**
 * s3rver (an S3-compatible server from npm) in-process on 127.0.0.1, storing in a temp directory.
 * `stop()` / `restart()` simulate an outage on the same port and data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export class LocalS3 {
  readonly directory: string;
  private server?: S3rverInstance;
  port = 0;

  constructor(readonly buckets: string[] = ['metering']) {
    this.directory = mkdtempSync(join(tmpdir(), 'spanmeter-s3rver-'));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = new S3rver({
      address: '127.0.0.1',
      port: this.port,
      silent: true,
      directory: this.directory,
      configureBuckets: this.buckets.map((name) => ({ name })),
    });
    const addr = await server.run();
    this.port = addr.port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops open connections (an outage). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.httpServer?.closeAllConnections();
    await s.close();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

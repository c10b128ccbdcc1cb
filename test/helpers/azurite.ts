/**
 * Azurite (Azure Storage emulator, from npm) as a child process on 127.0.0.1: blob service only,
 * in memory, on a free port. Uses the well-known development account.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

import { freePort } from './process.js';

export { freePort };

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`azurite did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class LocalAzurite {
  port = 0;
  private child?: ChildProcess;
  stderr = '';

  static binary(): string {
    return join(repoRoot(), 'node_modules', '.bin', 'azurite-blob');
  }

  static available(): boolean {
    return existsSync(LocalAzurite.binary());
  }

  get accountUrl(): string {
    return `http://127.0.0.1:${this.port}/${AZURITE_ACCOUNT}`;
  }

  get connectionString(): string {
    return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${this.accountUrl};`;
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    const child = spawn(
      LocalAzurite.binary(),
      ['--disableTelemetry', '--silent', '--skipApiVersionCheck', '--inMemoryPersistence', '--blobHost', '127.0.0.1', '--blobPort', String(this.port)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child = child;
    await waitForPort(this.port, child);
    return this;
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
}

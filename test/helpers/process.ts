/** Running the real `spanmeter` CLI as a child process, and small HTTP/file helpers for e2e tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from '../../receivers/otlp/testing.js';
import { buildRoot, repoRoot } from './paths.js';

/** Ports this process has handed out already (the OS may offer a just-closed port again). */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1 and that this process has not handed out
 * before: two calls in a row could otherwise return the same port (seen in CI: "http and grpc
 * cannot both listen on 127.0.0.1:36779").
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node <build>/src/cli.js ...args` in the repository root with extra env. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = repoRoot()): Cli {
  const child = spawn(process.execPath, [join(buildRoot(), 'src', 'cli.js'), ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function http(method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return request(url, { method, headers, body });
}

/** Polls `url` until it answers 200, or throws after `timeoutMs` (or when `cli` exits). */
export async function waitFor200(url: string, timeoutMs = 20_000, cli?: Cli): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void cli?.exited.then(() => (exited = true));
  for (;;) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the callback above while this loop awaits; the compiler does not see it
    if (exited) throw new Error(`spanmeter exited before ${url} answered\n${cli?.stderr()}\n${cli?.stdout().slice(-2000)}`);
    try {
      if ((await http('GET', url)).status === 200) return;
    } catch {
      /* not yet listening */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}\n${cli?.stderr()}\n${cli?.stdout().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** All files under `dir` (recursive), relative paths sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p, rel ? `${rel}/${n}` : n);
      else out.push(rel ? `${rel}/${n}` : n);
    }
  };
  walk(dir, '');
  return out;
}

/** Reads every `.json.gz` under `dir` and returns the records of each file. */
export function readGzipJsonFiles(dir: string): { file: string; records: Record<string, unknown>[] }[] {
  return listFiles(dir)
    .filter((f) => f.endsWith('.json.gz'))
    .map((file) => ({ file, records: JSON.parse(gunzipSync(readFileSync(join(dir, file))).toString('utf8')) as Record<string, unknown>[] }));
}

export interface Collector {
  cli: Cli;
  /** Temp directory holding `out/` (file sink) and `data/` (log and spools). */
  dir: string;
  out: string;
  /** OTLP/HTTP traces URL. */
  traces: string;
  /** Admin base URL (metrics, health, status). */
  admin: string;
}

/**
 * Starts the real CLI on the shipped pipeline.yaml with free loopback ports, a temp data/out
 * directory and `env` on top, and waits until /health/ready answers 200.
 */
export async function startShippedPipeline(
  env: Record<string, string> = {},
  opts: { args?: string[]; dir?: string; readyTimeoutMs?: number } = {},
): Promise<Collector> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'spanmeter-e2e-'));
  const [httpPort, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const cli = runCli(['run', '--config', 'pipeline.yaml', ...(opts.args ?? [])], {
    SPANMETER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
    SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
    SPANMETER_METRICS_ADDRESS: `127.0.0.1:${adminPort}`,
    SPANMETER_OUT_DIR: join(dir, 'out'),
    SPANMETER_DATA_DIR: join(dir, 'data'),
    SPANMETER_LOG_LEVEL: 'warn',
    ...env,
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  try {
    await waitFor200(`${admin}/health/ready`, opts.readyTimeoutMs ?? 60_000, cli);
  } catch (e) {
    cli.child.kill('SIGKILL'); // never left running behind a failed start
    throw e;
  }
  return { cli, dir, out: join(dir, 'out'), traces: `http://127.0.0.1:${httpPort}/v1/traces`, admin };
}

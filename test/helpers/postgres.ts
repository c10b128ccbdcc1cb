/**
 * A PostgreSQL for tests, or a reason to skip.
 *
 * 1. `SPANMETER_TEST_PG_URL` set: connect to it and create a fresh database (or, without the
 *    CREATEDB privilege, a fresh schema selected through the URL's `options`); never touches
 *    existing tables.
 * 2. Otherwise, when PostgreSQL's server binaries are installed (Debian: /usr/lib/postgresql/N/bin),
 *    start a throwaway cluster (initdb + pg_ctl) in a temp dir on a free 127.0.0.1 port; as root
 *    it runs as the `postgres` user through runuser (postgres refuses to run as root).
 * 3. Else: `{ skip }` with the reason; callers `t.skip(reason)`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './process.js';

const run = promisify(execFile);

export interface TestPostgres {
  /** URL of a database that belongs to the test alone. */
  url: string;
  stop(): Promise<void>;
}

export type TestPostgresResult = TestPostgres | { skip: string };

async function canConnect(url: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (e) {
    return (e as Error).message.replace(/\/\/[^@/]*@/, '//[redacted]@');
  } finally {
    await c.end().catch(() => {});
  }
}

const rand = () => Math.random().toString(36).slice(2, 10);

/** A fresh database (or schema) inside the server at `url`. */
async function isolate(url: string, owned?: () => Promise<void>): Promise<TestPostgres> {
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await admin.connect();
  const db = `spanmeter_enrich_${rand()}`;
  /** Drops what was created (best effort), then stops a server started for the test. */
  const stopWith = (drop: string) => async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query(drop);
    } catch {
      /* best effort */
    } finally {
      await c.end().catch(() => {});
    }
    await owned?.();
  };
  try {
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const u = new URL(url);
    u.pathname = `/${db}`;
    return { url: u.toString(), stop: stopWith(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`) };
  } catch {
    // No CREATEDB: use a fresh schema instead.
    await admin.query(`CREATE SCHEMA ${db}`);
    await admin.end();
    const u = new URL(url);
    u.searchParams.set('options', `-c search_path=${db}`);
    return { url: u.toString(), stop: stopWith(`DROP SCHEMA IF EXISTS ${db} CASCADE`) };
  }
}

function serverBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : undefined;
}

async function throwaway(bin: string): Promise<TestPostgres> {
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'spanmeter-pg-'));
  const data = join(dir, 'data');
  const as = async (cmd: string, args: string[]) => {
    if (!isRoot) return run(cmd, args, { timeout: 60_000 });
    return run('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeout: 60_000 });
  };
  if (isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    await chmod(dir, 0o700);
  }
  const port = await freePort();
  const cleanup = async () => {
    await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await as(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    await as(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { url: `postgresql://postgres@127.0.0.1:${port}/postgres`, stop: cleanup };
}

/** A PostgreSQL the test may use, or why it cannot have one. */
export async function testPostgres(): Promise<TestPostgresResult> {
  const url = process.env.SPANMETER_TEST_PG_URL;
  if (url) {
    const problem = await canConnect(url);
    if (problem) return { skip: `SPANMETER_TEST_PG_URL is set but PostgreSQL is not reachable (${problem}); skipping the litellm_db tests` };
    return isolate(url);
  }
  const bin = serverBinDir();
  if (!bin) {
    return {
      skip: 'no PostgreSQL: set SPANMETER_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) or install the server (apt-get install postgresql); skipping the litellm_db tests',
    };
  }
  let server: TestPostgres;
  try {
    server = await throwaway(bin);
  } catch (e) {
    return {
      skip: `could not start a throwaway PostgreSQL from ${bin} (${(e as Error).message.split('\n')[0]}); set SPANMETER_TEST_PG_URL; skipping the litellm_db tests`,
    };
  }
  try {
    return await isolate(server.url, () => server.stop());
  } catch (e) {
    await server.stop();
    return { skip: `throwaway PostgreSQL started but is unusable (${(e as Error).message}); skipping the litellm_db tests` };
  }
}

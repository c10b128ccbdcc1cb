/**
 * Nothing stranded: a collector killed with 3 workers and restarted as a single process (and the
 * reverse) adopts the data directories no running process owns — worker-<i> folders, or a single
 * process's log and spools at the root — and delivers every acknowledged call exactly once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { assertExactlyOnce } from './helpers/crash.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, readGzipJsonFiles, startShippedPipeline, type Collector } from './helpers/process.js';

/** Sends 5-call requests from 4 clients (new connection each: spread over workers) for `ms`; returns the acknowledged ids. */
async function load(c: Collector, tag: string, ms: number, kill?: () => void): Promise<{ acked: Set<string>; sent: number }> {
  const acked = new Set<string>();
  let sent = 0;
  let next = 0;
  const until = Date.now() + ms;
  const killAt = kill ? setTimeout(kill, ms * 0.7) : undefined;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        const ids = Array.from({ length: 5 }, () => `chatcmpl-adopt-${tag}-${next++}`);
        sent += 5;
        const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ responseId }))))));
        try {
          const res = await http('POST', c.traces, body, { 'content-type': 'application/x-protobuf', connection: 'close' });
          if (res.status === 200) for (const id of ids) acked.add(id);
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // killed: refused
        }
      }
    }),
  );
  clearTimeout(killAt);
  return { acked, sent };
}

/** SIGKILL to a collector and its workers (children) at once. */
function killAll(c: Collector): void {
  const pid = c.cli.child.pid!;
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
      .toString()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    /* none */
  }
  for (const p of [pid, ...children]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function waitForCalls(out: string, ids: Set<string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = new Set(readGzipJsonFiles(out).flatMap((f) => f.records.filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId))));
    if ([...ids].every((id) => found.has(id)) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function scenario(t: TestContext, first: string[], then: string[], label: string): Promise<void> {
  const env = { AFLO_FLUSH_INTERVAL: '1' };
  const a = await startShippedPipeline(env, { args: first });
  const data = join(a.dir, 'data');
  try {
    const { acked, sent } = await load(a, label, 2_500, () => killAll(a));
    await a.cli.exited;
    await new Promise((r) => setTimeout(r, 300)); // workers orphaned by the kill are gone too
    const b = await startShippedPipeline(env, { args: then, dir: a.dir });
    try {
      await waitForCalls(a.out, acked, 60_000);
      // Adoption removes what it drained; give it a moment after the last object.
      const deadline = Date.now() + 30_000;
      const stranded = () => (then.length ? existsSync(join(data, 'wal')) : readdirSync(data).some((n) => n.startsWith('worker-')));
      while (stranded() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.equal(stranded(), false, `the stranded data is removed once delivered: ${readdirSync(data).join(', ')}`);
    } finally {
      b.cli.child.kill('SIGTERM');
      assert.equal((await b.cli.exited).code, 0, b.cli.stderr());
    }
    const records = readGzipJsonFiles(a.out).flatMap((f) => f.records);
    assertExactlyOnce(t, { seed: 0, kills: 1, dir: a.dir, sent, acked, ackedIn: new Map() }, records, label);
    rmSync(a.dir, { recursive: true, force: true });
  } finally {
    killAll(a);
  }
}

describe('adoption of stranded data directories', () => {
  it('3 workers killed, restarted as 1 process: their worker-<i> folders are drained, every acknowledged call once', { timeout: 180_000 }, (t) =>
    scenario(t, ['--workers', '3'], [], '3 workers → 1'),
  );
  it('1 process killed, restarted with 3 workers: the root log and spools are drained, every acknowledged call once', { timeout: 180_000 }, (t) =>
    scenario(t, [], ['--workers', '3'], '1 → 3 workers'),
  );
});

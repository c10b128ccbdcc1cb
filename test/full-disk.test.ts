/**
 * A full disk degrades, then recovers without a restart. The data directory is a small tmpfs
 * (mounted by the test: it needs root, and is skipped without): filled by another writer, the
 * collector refuses (429/503) without piling up empty log segments, and accepts again within
 * seconds once the space is back; filled by its own log, it keeps delivering and trimming (the
 * checkpoint is written in place, `min_free_disk` keeps room for delivery) and accepts again by
 * itself. Killed (SIGKILL) under load on the nearly full disk and restarted, every acknowledged
 * call is delivered exactly once.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { assertExactlyOnce } from './helpers/crash.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { freePort, http, readGzipJsonFiles, runCli, waitFor200 } from './helpers/process.js';

function tryMount(dir: string, size: string): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a file until the file system is full, or until `leaveBytes` would be left (approximately). */
function fill(path: string, leaveBytes = 0): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 7);
  try {
    for (;;) {
      const free = Number(execFileSync('df', ['-B1', '--output=avail', path]).toString().trim().split('\n')[1]);
      if (free - chunk.length < leaveBytes) break;
      writeSync(fd, chunk);
    }
  } catch {
    /* ENOSPC: full */
  } finally {
    closeSync(fd);
  }
}

describe('full disk', () => {
  it(
    'refuses while full, piles up no empty segments, accepts again within seconds when space is back; every acknowledged call once',
    { timeout: 180_000 },
    async (t) => {
      const root = mkdtempSync(join(tmpdir(), 'spanmeter-full-'));
      const mnt = join(root, 'data');
      mkdirSync(mnt);
      if (!tryMount(mnt, '8m')) {
        rmSync(root, { recursive: true, force: true });
        t.skip('needs root and tmpfs to make a small file system');
        return;
      }
      const [httpPort, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
      const pipeline = join(root, 'pipeline.yaml');
      writeFileSync(
        pipeline,
        `receivers:
  otlp:
    protocols:
      http: {endpoint: "127.0.0.1:${httpPort}"}
      grpc: {endpoint: "127.0.0.1:${grpcPort}"}
processors:
  litellm: {}
  amberflo: {mode: clean}
  batch: {send_batch_size: 20, timeout: 1s}
exporters:
  file: {directory: ${JSON.stringify(join(root, 'out'))}, path: metering}
service:
  data_dir: ${JSON.stringify(join(mnt, 'spanmeter'))}
  durability: {segment_size: 256KiB, min_free_disk: 1MiB}
  telemetry:
    logs: {level: warn}
    metrics: {address: "127.0.0.1:${adminPort}"}
  pipelines:
    metering: {receivers: [otlp], processors: [litellm, amberflo, batch], exporters: [file]}
`,
      );
      let cli = runCli(['run', '--config', pipeline]);
      const url = `http://127.0.0.1:${httpPort}/v1/traces`;
      const acked = new Set<string>();
      let sent = 0;
      let next = 0;
      const post = async (): Promise<number> => {
        const ids = Array.from({ length: 5 }, () => `chatcmpl-full-${next++}`);
        sent += 5;
        const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ responseId }))))));
        try {
          const res = await http('POST', url, body, { 'content-type': 'application/x-protobuf' });
          if (res.status === 200) for (const id of ids) acked.add(id);
          return res.status;
        } catch {
          return 0; // killed: not acknowledged
        }
      };
      const load = async (ms: number): Promise<Map<number, number>> => {
        const statuses = new Map<number, number>();
        const until = Date.now() + ms;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (Date.now() < until) {
              const s = await post();
              if (s === 0) return;
              statuses.set(s, (statuses.get(s) ?? 0) + 1);
              if (s !== 200) await new Promise((r) => setTimeout(r, 20));
            }
          }),
        );
        return statuses;
      };
      /** Milliseconds until a request is accepted. */
      const untilAccepted = async (timeoutMs: number): Promise<number> => {
        const t0 = Date.now();
        while (Date.now() - t0 < timeoutMs) {
          if ((await post()) === 200) return Date.now() - t0;
          await new Promise((r) => setTimeout(r, 100));
        }
        return Infinity;
      };
      const walDir = join(mnt, 'spanmeter', 'wal', 'metering');
      const filler = join(mnt, 'filler');
      try {
        await waitFor200(`http://127.0.0.1:${adminPort}/health/ready`, 60_000, cli);
        await load(1_000);
        await new Promise((r) => setTimeout(r, 1_500)); // delivered; the checkpoint file exists

        // 1. Another writer fills the disk.
        fill(filler);
        const full = await load(2_000);
        const segments = readdirSync(walDir).filter((n) => n.endsWith('.log')).length;
        t.diagnostic(`disk filled by another writer: statuses ${JSON.stringify([...full])}, ${segments} log segments`);
        assert.ok(
          [...full.keys()].some((s) => s !== 200),
          'refused while the disk is full',
        );
        assert.ok(segments <= 2, `no empty segments pile up (${segments})`);
        rmSync(filler);
        const back = await untilAccepted(10_000);
        t.diagnostic(`accepting again ${back} ms after the space came back`);
        assert.ok(back < 5_000, `accepting again within seconds (${back} ms)`);

        // 2. Its own log fills the disk (1.25 MiB left, 1 MiB of it kept for delivery): it
        // delivers, trims and accepts again by itself.
        fill(filler, 1.25 * 1024 * 1024);
        const own = await load(3_000);
        t.diagnostic(`disk filled by the log: statuses ${JSON.stringify([...own])}`);
        const again = await untilAccepted(10_000);
        t.diagnostic(`accepting again ${again} ms after the load stopped, the filler still there`);
        assert.ok(again < 5_000, `accepting again by itself (${again} ms)`);

        // 3. SIGKILL under load on the nearly full disk, then a restart with the space back.
        const killed = load(1_500);
        await new Promise((r) => setTimeout(r, 1_000));
        cli.child.kill('SIGKILL');
        await cli.exited;
        await killed.catch(() => undefined);
        rmSync(filler);
        cli = runCli(['run', '--config', pipeline]);
        await waitFor200(`http://127.0.0.1:${adminPort}/health/ready`, 60_000, cli);
        await load(500);
        await new Promise((r) => setTimeout(r, 1_500));
        cli.child.kill('SIGTERM');
        assert.equal((await cli.exited).code, 0, cli.stderr());
        const records = readGzipJsonFiles(join(root, 'out')).flatMap((f) => f.records);
        assertExactlyOnce(t, { seed: 0, kills: 1, dir: root, sent, acked, ackedIn: new Map() }, records, 'full disk');
      } finally {
        cli.child.kill('SIGKILL');
        await cli.exited;
        execFileSync('umount', [mnt]);
        rmSync(root, { recursive: true, force: true });
      }
    },
  );
});

/**
 * Crash test: LiteLLM-shaped OTLP protobuf requests, each call with a unique response
 * id, are sent while the collector is killed with SIGKILL at random moments and restarted on the
 * same data directory. Afterwards every call whose request got a 200 must be in the output files,
 * and after removing exact duplicate records (Amberflo's whole-record de-duplication) each call's
 * records appear once.
 *
 * `npm test` runs a reduced size; `npm run test:chaos` sets SPANMETER_CHAOS=1 for the full size.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { freePort, http, readGzipJsonFiles, runCli, waitFor200, type Cli } from './helpers/process.js';

const CHAOS = process.env.SPANMETER_CHAOS === '1';
const KILLS = CHAOS ? 8 : 3;
const RUN_MS = CHAOS ? 4_000 : 1_500; // load time between kills
const CALLS_PER_REQUEST = 5;

/** A seeded PRNG so a failing run can be repeated (seed printed in the diagnostics). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('crash safety', () => {
  // The file exporter writes in place by default; with SPANMETER_FILE_SPOOL=true through its spool.
  for (const spool of ['false', 'true']) it(`keeps every acknowledged call across ${KILLS} SIGKILLs, with no duplicate after de-duplication (file exporter, spool: ${spool})`, { timeout: 600_000 }, async (t) => {
    const seed = Number(process.env.SPANMETER_CHAOS_SEED ?? Date.now() % 1_000_000);
    const rand = rng(seed);
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-crash-'));
    const [httpPort, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      SPANMETER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
      SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
      SPANMETER_METRICS_ADDRESS: `127.0.0.1:${adminPort}`,
      SPANMETER_OUT_DIR: join(dir, 'out'),
      SPANMETER_DATA_DIR: join(dir, 'data'),
      SPANMETER_LOG_LEVEL: 'warn',
      AFLO_FLUSH_INTERVAL: '1',
      AFLO_BATCH_SIZE: '40',
      SPANMETER_FILE_SPOOL: spool,
    };
    const url = `http://127.0.0.1:${httpPort}/v1/traces`;
    const start = async (): Promise<Cli> => {
      const cli = runCli(['run', '--config', 'pipeline.yaml'], env);
      await waitFor200(`http://127.0.0.1:${adminPort}/health/ready`, 60_000, cli);
      return cli;
    };

    const acked = new Set<string>();
    let sent = 0;
    let next = 0;
    let cli = await start();
    for (let round = 0; round <= KILLS; round++) {
      const until = Date.now() + RUN_MS * (0.5 + rand());
      let alive = true;
      const sender = async () => {
        while (alive && Date.now() < until) {
          const ids = Array.from({ length: CALLS_PER_REQUEST }, () => `chatcmpl-crash-${seed}-${next++}`);
          const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ responseId }))))));
          sent += ids.length;
          try {
            const res = await http('POST', url, body, { 'content-type': 'application/x-protobuf' });
            if (res.status === 200) for (const id of ids) acked.add(id);
          } catch {
            /* connection refused or reset by the kill: not acknowledged */
          }
        }
      };
      const senders = Array.from({ length: 4 }, sender);
      if (round < KILLS) {
        // Kill at a random moment while the senders are busy.
        await new Promise((r) => setTimeout(r, (until - Date.now()) * rand()));
        cli.child.kill('SIGKILL');
        await cli.exited;
        alive = false;
        await Promise.all(senders);
        cli = await start();
      } else {
        await Promise.all(senders);
      }
    }
    // Let the last batches flush, then stop cleanly.
    await new Promise((r) => setTimeout(r, 1500));
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr());

    const records = readGzipJsonFiles(join(dir, 'out')).flatMap((f) => f.records);
    const unique = new Map(records.map((r) => [JSON.stringify(r), r]));
    const callsFound = new Map<string, number>();
    for (const r of unique.values()) {
      if (r.meterApiName === 'llm_api_call') callsFound.set(String(r.uniqueId), (callsFound.get(String(r.uniqueId)) ?? 0) + 1);
    }
    const missing = [...acked].filter((id) => !callsFound.has(id));
    const doubled = [...callsFound].filter(([, n]) => n > 1).map(([id]) => id);
    t.diagnostic(
      `spool ${spool}, seed ${seed}: ${KILLS} SIGKILLs, ${sent} calls sent, ${acked.size} acknowledged, ${callsFound.size} found; ` +
        `${records.length} records written, ${records.length - unique.size} exact duplicates removed, ${doubled.length} calls still doubled after de-duplication`,
    );
    assert.ok(acked.size > 0, 'some calls were acknowledged');
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged calls missing from the output (seed ${seed}, directory ${dir})`);
    assert.deepEqual(doubled.slice(0, 10), [], `${doubled.length} calls counted twice after de-duplication (seed ${seed}, directory ${dir})`);
    rmSync(dir, { recursive: true, force: true }); // kept when an assertion fails, to look into
  });
});

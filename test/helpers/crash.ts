/**
 * The crash test's harness (test/crash.test.ts and the tests built on it): LiteLLM-shaped OTLP protobuf requests, each call with a unique response id, are sent
 * by a client that counts the calls whose request got a 200, while the collector is killed with
 * SIGKILL at random moments and restarted on the same data directory. Afterwards, across every
 * output object (files, or the objects in an s3rver bucket), every acknowledged call is there and
 * no record is there twice: nothing is de-duplicated before counting.
 *
 * `npm test` runs a reduced size; `npm run test:chaos` sets SPANMETER_CHAOS=1 for the full size.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TestContext } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { encodeOtlpProto, fromOtlpJson } from '../../src/otlp/index.js';
import { otlpRequest, type CallSpec } from './litellm-spans.js';
import { freePort, http, runCli, waitFor200, type Cli } from './process.js';
import { S3RVER_CREDENTIALS } from './s3rver.js';

export const CHAOS = process.env.SPANMETER_CHAOS === '1';
export const KILLS = CHAOS ? 12 : 4;
const RUN_MS = CHAOS ? 3_000 : 1_200; // mean load time between kills
const CALLS_PER_REQUEST = 5;

export type Rec = Record<string, unknown>;

/** A seeded PRNG so a failing run can be repeated (seed printed in the diagnostics). */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CrashRun {
  seed: number;
  kills: number;
  dir: string;
  sent: number;
  acked: Set<string>;
  /** For each acknowledged call, the round (0 = before the first kill) that acknowledged it. */
  ackedIn: Map<string, number>;
}

/**
 * Sends load from 4 clients while the collector (the shipped pipeline.yaml unless `args` say
 * otherwise) is SIGKILLed `kills` times and restarted on the same data directory; `beforeRestart`
 * runs while it is down. Ends with a SIGTERM (exit code 0).
 */
export async function crashRun(
  env: Record<string, string>,
  opts: { kills?: number; runMs?: number; args?: string[]; beforeRestart?: (round: number) => void; call?: Partial<CallSpec> } = {},
): Promise<CrashRun> {
  const kills = opts.kills ?? KILLS;
  const runMs = opts.runMs ?? RUN_MS;
  const seed = Number(process.env.SPANMETER_CHAOS_SEED ?? Date.now() % 1_000_000);
  const rand = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'spanmeter-crash-'));
  const [httpPort, grpcPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const fullEnv = {
    SPANMETER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
    SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
    SPANMETER_METRICS_ADDRESS: `127.0.0.1:${adminPort}`,
    SPANMETER_OUT_DIR: join(dir, 'out'),
    SPANMETER_DATA_DIR: join(dir, 'data'),
    SPANMETER_LOG_LEVEL: 'warn',
    ...env,
  };
  const url = `http://127.0.0.1:${httpPort}/v1/traces`;
  const start = async (): Promise<Cli> => {
    const cli = runCli(opts.args ?? ['run', '--config', 'pipeline.yaml'], fullEnv);
    await waitFor200(`http://127.0.0.1:${adminPort}/health/ready`, 60_000, cli);
    return cli;
  };

  const acked = new Set<string>();
  const ackedIn = new Map<string, number>();
  let sent = 0;
  let next = 0;
  let cli = await start();
  for (let round = 0; round <= kills; round++) {
    const until = Date.now() + runMs * (0.5 + rand());
    let alive = true;
    const sender = async () => {
      while (alive && Date.now() < until) {
        const ids = Array.from({ length: CALLS_PER_REQUEST }, () => `chatcmpl-crash-${seed}-${next++}`);
        const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ ...opts.call, responseId }))))));
        sent += ids.length;
        try {
          const res = await http('POST', url, body, { 'content-type': 'application/x-protobuf' });
          if (res.status === 200) {
            for (const id of ids) {
              acked.add(id);
              ackedIn.set(id, round);
            }
          } else await new Promise((r) => setTimeout(r, 50)); // 429/503: back off a little, as a client does
        } catch {
          /* connection refused or reset by the kill: not acknowledged */
        }
      }
    };
    const senders = Array.from({ length: 4 }, sender);
    if (round < kills) {
      // Kill at a random moment while the senders are busy.
      await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) * rand()));
      cli.child.kill('SIGKILL');
      await cli.exited;
      alive = false;
      await Promise.all(senders);
      opts.beforeRestart?.(round + 1);
      cli = await start();
    } else {
      await Promise.all(senders);
    }
  }
  // Let the last batches flush, then stop cleanly (shutdown sends what is left).
  await new Promise((r) => setTimeout(r, 500));
  cli.child.kill('SIGTERM');
  const { code } = await cli.exited;
  assert.equal(code, 0, cli.stderr());
  return { seed, kills, dir, sent, acked, ackedIn };
}

/**
 * Asserts exactly once over all output records, counted as they are: every acknowledged call has
 * its `llm_api_call` record, no record occurs twice, and every call has as many records as the
 * others (all calls have the same shape: a copy that differs, e.g. enriched otherwise, shows there).
 */
export function assertExactlyOnce(t: TestContext, run: CrashRun, records: Rec[], label: string): void {
  const byJson = new Map<string, number>();
  const perCall = new Map<string, number>();
  for (const r of records) {
    const j = JSON.stringify(r);
    byJson.set(j, (byJson.get(j) ?? 0) + 1);
    perCall.set(String(r.uniqueId), (perCall.get(String(r.uniqueId)) ?? 0) + 1);
  }
  const calls = new Set(records.filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId)));
  const missing = [...run.acked].filter((id) => !calls.has(id));
  const twice = [...byJson].filter(([, n]) => n > 1);
  const shape = Math.min(...perCall.values());
  const more = [...perCall].filter(([, n]) => n > shape);
  t.diagnostic(
    `${label}, seed ${run.seed}: ${run.kills} SIGKILLs, ${run.sent} calls sent, ${run.acked.size} acknowledged, ${calls.size} found; ` +
      `${records.length} records written (${shape} per call), ${twice.length} records present more than once, ${more.length} calls with more than ${shape} records`,
  );
  assert.ok(run.acked.size > 0, 'some calls were acknowledged');
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged calls missing from the output (seed ${run.seed}, directory ${run.dir})`);
  assert.deepEqual(twice.slice(0, 5), [], `${twice.length} records present more than once (seed ${run.seed}, directory ${run.dir})`);
  assert.deepEqual(more.slice(0, 5), [], `${more.length} calls with more records than the others (seed ${run.seed}, directory ${run.dir})`);
}

/** Every record of every object in an s3rver bucket. */
export async function readBucket(endpoint: string, bucket: string): Promise<Rec[]> {
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  const records: Rec[] = [];
  let token: string | undefined;
  try {
    do {
      const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const o of list.Contents ?? []) {
        const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
        records.push(...(JSON.parse(gunzipSync(await g.Body!.transformToByteArray()).toString()) as Rec[]));
      }
      token = list.IsTruncated ? list.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return records;
}

/** The environment that points the shipped pipeline.yaml at an s3rver bucket. */
export function s3Env(endpoint: string, bucket: string): Record<string, string> {
  return {
    AFLO_BACKEND_TYPE: 's3',
    AFLO_BUCKET_NAME: bucket,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: endpoint,
    SPANMETER_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  };
}

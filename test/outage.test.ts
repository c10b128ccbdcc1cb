/**
 * Outage tests through the real CLI and the shipped pipeline.yaml with
 * AFLO_BACKEND_TYPE=s3 against s3rver:
 * - the S3 server stops for a while under load: the spool grows, nothing acknowledged is lost,
 *   everything is delivered after it returns;
 * - with a small disk budget, the receiver pushes back with 429/503 while S3 is down, and again
 *   nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, startShippedPipeline, type Collector } from './helpers/process.js';
import { LocalS3, S3RVER_CREDENTIALS } from './helpers/s3rver.js';

function startCollector(s3: LocalS3, extra: Record<string, string> = {}): Promise<Collector> {
  return startShippedPipeline({
    SPANMETER_LOG_LEVEL: 'error',
    AFLO_BACKEND_TYPE: 's3',
    AFLO_BUCKET_NAME: 'metering',
    AFLO_BATCH_SIZE: '50',
    AFLO_FLUSH_INTERVAL: '1',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    SPANMETER_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    ...extra,
  });
}

/** Sends unique calls until `stop()`; returns what was acknowledged and what was refused. */
function load(traces: string, tag: string) {
  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  let n = 0;
  let running = true;
  const sender = async () => {
    while (running) {
      const ids = [0, 1, 2, 3].map(() => `chatcmpl-${tag}-${n++}`);
      const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ responseId }))))));
      const res = await http('POST', traces, body, { 'content-type': 'application/x-protobuf' }).catch(() => ({ status: 0 }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) for (const id of ids) acked.add(id);
      else await new Promise((r) => setTimeout(r, 20));
    }
  };
  const senders = [sender(), sender(), sender()];
  return {
    acked,
    statuses,
    async stop() {
      running = false;
      await Promise.all(senders);
    },
  };
}

async function spoolObjects(admin: string): Promise<number> {
  const s = JSON.parse((await http('GET', `${admin}/status`)).body.toString()) as { components: Record<string, { spoolObjects?: number }> };
  return s.components['exporter:s3']?.spoolObjects ?? 0;
}

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function billedIds(s3: LocalS3): Promise<string[]> {
  const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await client.send(new ListObjectsV2Command({ Bucket: 'metering', ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const g = await client.send(new GetObjectCommand({ Bucket: 'metering', Key: o.Key! }));
      for (const r of JSON.parse(gunzipSync(await g.Body!.transformToByteArray()).toString()) as { meterApiName: string; uniqueId?: string }[]) {
        if (r.meterApiName === 'llm_api_call') ids.push(String(r.uniqueId));
      }
    }
    token = page.NextContinuationToken;
  } while (token);
  client.destroy();
  return ids;
}

const servers: LocalS3[] = [];
after(async () => {
  for (const s of servers) await s.dispose();
});

describe('storage outage', () => {
  it('spools while S3 is down under load and delivers everything when it returns', { timeout: 180_000 }, async (t) => {
    const s3 = await new LocalS3(['metering']).start();
    servers.push(s3);
    const run = await startCollector(s3);
    const l = load(run.traces, 'outage');
    await waitUntil(async () => l.acked.size >= 200, 'some calls before the outage');
    await s3.stop();
    const ackedAtStop = l.acked.size;
    await waitUntil(async () => (await spoolObjects(run.admin)) >= 3 && l.acked.size > ackedAtStop + 200, 'the spool to grow during the outage');
    const peak = await spoolObjects(run.admin);
    await s3.start(); // same port, same data
    await new Promise((r) => setTimeout(r, 1500));
    await l.stop();
    await waitUntil(async () => (await spoolObjects(run.admin)) === 0, 'the spool to drain');
    run.cli.child.kill('SIGTERM');
    assert.equal((await run.cli.exited).code, 0, run.cli.stderr());
    const ids = await billedIds(s3);
    const found = new Set(ids);
    const missing = [...l.acked].filter((id) => !found.has(id));
    t.diagnostic(`acknowledged ${l.acked.size} calls (${ackedAtStop} before the outage), spool peaked at ≥${peak} objects, ${ids.length} calls delivered`);
    assert.deepEqual(missing, []);
    assert.equal(ids.length, found.size, 'no call delivered twice');
  });

  it('pushes back with 429/503 when the disk budget is full, and loses nothing acknowledged', { timeout: 180_000 }, async (t) => {
    const s3 = await new LocalS3(['metering']).start();
    servers.push(s3);
    const run = await startCollector(s3, { SPANMETER_MAX_DISK_BYTES: '256KiB' });
    await s3.stop(); // down from the start: everything accepted has to stay on disk
    const l = load(run.traces, 'budget');
    await waitUntil(async () => (l.statuses.get(429) ?? 0) + (l.statuses.get(503) ?? 0) >= 5, 'the receiver to push back');
    const metrics = (await http('GET', `${run.admin}/metrics`)).body.toString();
    assert.match(metrics, /spanmeter_wal_refused_total\{pipeline="metering"\} [1-9]/);
    await s3.start();
    await new Promise((r) => setTimeout(r, 1500));
    await l.stop();
    await waitUntil(async () => (await spoolObjects(run.admin)) === 0, 'the spool to drain');
    run.cli.child.kill('SIGTERM');
    assert.equal((await run.cli.exited).code, 0, run.cli.stderr());
    const found = new Set(await billedIds(s3));
    const missing = [...l.acked].filter((id) => !found.has(id));
    t.diagnostic(`responses: ${JSON.stringify(Object.fromEntries(l.statuses))}; ${l.acked.size} calls acknowledged, ${found.size} delivered`);
    assert.ok(l.acked.size > 0);
    assert.deepEqual(missing, []);
  });
});

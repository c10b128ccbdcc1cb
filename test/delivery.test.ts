/**
 * End to end through the real pipeline engine: a test receiver (registered through the plugin API)
 * emits meter_events → batch processor → exporter → a real store (local files, s3rver with the
 * real AWS SDK, Azurite with the real Azure SDK, a local ingest API). Every record sent is read
 * back from the store and compared. Failure injection: server down, 500s, slow responses.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { BackpressureError } from '../src/component.js';
import { configOf } from '../src/config/component-config.js';
import { formatError, loadConfig } from '../src/config/config.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { createRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { LocalAzurite } from './helpers/azurite.js';
import { registerTestComponents, type TestSource } from './helpers/components.js';
import { LocalS3, S3RVER_CREDENTIALS } from './helpers/s3rver.js';
import { alternateKey, encodeBatch } from '../integrations/amberflo/objects.js';
import { S3Sink } from '../exporters/s3/s3.js';
import s3Factory from '../exporters/s3/index.js';
import { AzureBlobSink } from '../exporters/azureblob/azureblob.js';
import azureFactory from '../exporters/azureblob/index.js';

const KEY_RE = /^(?:(.+)\/)?(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\/merged_logs_[0-9a-f]{8}\.json\.gz$/;
const FAST_RETRY = `
    timeout: 2s
    retry_on_failure: { initial_interval: 20ms, max_interval: 200ms, max_elapsed_time: 60s }`;

const tmpRoot = mkdtempSync(join(tmpdir(), 'spanmeter-delivery-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

function records(n: number, opts: { from?: number; bu?: (i: number) => string | undefined; t0?: number } = {}): MeterRecord[] {
  const from = opts.from ?? 0;
  const t0 = opts.t0 ?? Date.UTC(2026, 10, 23, 12, 34, 56);
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const bu = opts.bu?.(i);
    return {
      meterApiName: 'llm-input-tokens',
      meterTimeInMillis: t0 + i * 1000,
      meterValue: (i % 97) + 1,
      customerId: `customer-${i % 7}`,
      uniqueId: `call-${i}-input`,
      dimensions: { model: 'gpt-4o', hosted_env: 'prod', ...(bu ? { business_unit_id: bu } : {}) },
    };
  });
}

const byId = (a: MeterRecord, b: MeterRecord) => (a.uniqueId! < b.uniqueId! ? -1 : a.uniqueId! > b.uniqueId! ? 1 : 0);
const sorted = (rs: MeterRecord[]) => [...rs].sort(byId);

let seq = 0;
async function startPipeline(
  exportersYaml: string,
  exporterIds: string[],
  batchYaml = 'send_batch_size: 50\n    timeout: 60s',
  opts: { durable?: boolean; dataDir?: string } = {},
) {
  const dataDir = opts.dataDir ?? join(tmpRoot, `data-${++seq}`);
  const file = join(tmpRoot, `pipeline-${++seq}.yaml`);
  // These tests are about the exporters: batches reach them as cut (no merging of batches that
  // wait, which depends on timing), unless a test asks for it.
  if (!batchYaml.includes('send_batch_max_size')) batchYaml += '\n    send_batch_max_size: 1';
  writeFileSync(
    file,
    `receivers:
  test_source:
processors:
  batch:
    ${batchYaml}
exporters:
${exportersYaml}
service:
  data_dir: ${dataDir}
  durability:
    enabled: ${opts.durable !== false}
  pipelines:
    metering:
      receivers: [test_source]
      processors: [batch]
      exporters: [${exporterIds.join(', ')}]
`,
  );
  const registry = await createRegistry();
  registerTestComponents(registry);
  const { config, errors } = await loadConfig([file], registry, { env: {} });
  assert.deepEqual(errors.map(formatError), []);
  const svc = new Service(config!, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), metricsAddress: null, processMetrics: false });
  await svc.start();
  const source = svc.graph.nodes.find((n) => n.id === 'test_source')!.instance as TestSource;
  return { svc, source, dataDir };
}

/** Sends records in requests of `per` records. */
async function emitAll(source: TestSource, rs: MeterRecord[], per = 37): Promise<void> {
  for (let i = 0; i < rs.length; i += per) await source.emit(rs.slice(i, i + per));
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function decode(body: Uint8Array): MeterRecord[] {
  const parsed = JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
  assert.ok(Array.isArray(parsed), 'body is a JSON array');
  return parsed as MeterRecord[];
}

/** Checks a key's layout and that its minute partition is the first record's (UTC). */
function checkKey(key: string, prefix: string, body: MeterRecord[]): void {
  const m = KEY_RE.exec(key);
  assert.ok(m, `key ${key} follows <path>/YYYY/MM/DD/HH/mm/merged_logs_<hex>.json.gz`);
  assert.equal(m[1] ?? '', prefix, `prefix of ${key}`);
  const d = new Date(body[0]!.meterTimeInMillis);
  assert.deepEqual(m.slice(2, 7).map(Number), [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

// ---------------------------------------------------------------------------------------------
describe('file exporter, end to end', () => {
  it('writes every record in the object key layout (docs/mapping.md), atomically, split by batch size', async () => {
    const out = join(tmpRoot, 'files-1');
    const { svc, source } = await startPipeline(`  file:\n    directory: ${out}\n    path: litellm-metering`, ['file']);
    const sent = records(1234);
    await emitAll(source, sent);
    await svc.shutdown(10_000);
    const files = walk(out);
    assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, 'no temp files left');
    assert.equal(files.length, Math.ceil(1234 / 50), 'one file per batch of send_batch_size');
    const got: MeterRecord[] = [];
    for (const f of files) {
      const body = decode(readFileSync(f));
      assert.ok(body.length <= 50);
      checkKey(relative(out, f), 'litellm-metering', body);
      got.push(...body);
    }
    assert.deepEqual(sorted(got), sorted(sent));
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_records_total', { exporter: 'file' }), 1234);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_objects_total', { exporter: 'file' }), files.length);
    assert.ok((await metric(svc.metrics.registry, 'spanmeter_exporter_last_success_timestamp_seconds', { exporter: 'file' })) > 0);
  });

  it('with send_batch_max_size, writes batches that waited as merged files: every record once, none over the bound', async () => {
    const out = join(tmpRoot, 'files-merged');
    const { svc, source } = await startPipeline(
      `  file:\n    directory: ${out}\n    path: litellm-metering`,
      ['file'],
      'send_batch_size: 50\n    send_batch_max_size: 300\n    max_in_flight: 1\n    timeout: 60s',
    );
    const sent = records(5000);
    await emitAll(source, sent, 500); // ten batches per request: the first goes at once, the rest wait for it
    await svc.shutdown(10_000);
    const files = walk(out);
    const got: MeterRecord[] = [];
    for (const f of files) {
      const body = decode(readFileSync(f));
      assert.ok(body.length <= 300, `${body.length} records in a file`);
      checkKey(relative(out, f), 'litellm-metering', body);
      got.push(...body);
    }
    assert.deepEqual(sorted(got), sorted(sent));
    assert.ok(files.length < 5000 / 50, `${files.length} files for 100 batches: waiting batches were merged`);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_processor_batch_merged_total'), 100 - files.length);
  });

  it('routes by business_unit_id to per-route directories/prefixes, unknown values to the default', async () => {
    const out = join(tmpRoot, 'files-route');
    const other = join(tmpRoot, 'files-route-b');
    const { svc, source } = await startPipeline(
      `  file:
    directory: ${out}
    path: default
    routing:
      dimension: business_unit_id
      routes:
        bu-a: { path: units/a }
        bu-b: { directory: ${other}, path: units/b }`,
      ['file'],
      'send_batch_size: 20\n    timeout: 60s\n    partition_by: [business_unit_id]',
    );
    const bus = ['bu-a', 'bu-b', 'bu-unknown', undefined];
    const sent = records(400, { bu: (i) => bus[i % 4] });
    await emitAll(source, sent);
    await svc.shutdown(10_000);
    const where = (dir: string, prefix: string) =>
      walk(dir)
        .map((f) => relative(dir, f))
        .filter((k) => k.startsWith(`${prefix}/`))
        .flatMap((k) => {
          const body = decode(readFileSync(join(dir, k)));
          checkKey(k, prefix, body);
          return body;
        });
    const a = where(out, 'units/a');
    const b = where(other, 'units/b');
    const d = where(out, 'default');
    assert.deepEqual(sorted(a), sorted(sent.filter((r) => r.dimensions?.business_unit_id === 'bu-a')));
    assert.deepEqual(sorted(b), sorted(sent.filter((r) => r.dimensions?.business_unit_id === 'bu-b')));
    assert.deepEqual(sorted(d), sorted(sent.filter((r) => !['bu-a', 'bu-b'].includes(r.dimensions?.business_unit_id ?? ''))));
  });
});

// ---------------------------------------------------------------------------------------------
/** A proxy in front of a server that can fail or delay requests. */
class FaultProxy {
  private server?: Server;
  port = 0;
  /** Per request: return 'pass', or a status to answer, or 'slow' (never answers in time). */
  plan: (req: IncomingMessage, n: number) => 'pass' | 'slow' | { status: number; headers?: Record<string, string> } = () => 'pass';
  requests = 0;
  constructor(private readonly target: () => number) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const action = this.plan(req, ++this.requests);
    if (action === 'slow') {
      req.resume();
      const t = setTimeout(() => res.destroy(), 10_000);
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (action !== 'pass') {
      req.resume();
      res.writeHead(action.status, { 'content-type': 'application/xml', ...action.headers });
      res.end('<Error><Code>InternalError</Code><Message>injected</Message></Error>');
      return;
    }
    const up = httpRequest({ host: '127.0.0.1', port: this.target(), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

async function listS3(client: S3Client, bucket: string): Promise<{ key: string; body: MeterRecord[]; contentType?: string; contentEncoding?: string }[]> {
  const out = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const g = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
      out.push({ key: o.Key!, body: decode(await g.Body!.transformToByteArray()), contentType: g.ContentType, contentEncoding: g.ContentEncoding });
    }
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

describe('s3 exporter against s3rver, end to end', () => {
  let s3: LocalS3;
  let client: S3Client;
  const s3Yaml = (id: string, endpoint: string, bucket: string, extra = '') => `  ${id}:
    bucket: ${bucket}
    region: us-east-1
    endpoint: ${endpoint}
    force_path_style: true
    access_key_id: ${S3RVER_CREDENTIALS.accessKeyId}
    secret_access_key: ${S3RVER_CREDENTIALS.secretAccessKey}
    path: litellm-metering${FAST_RETRY}${extra}`;

  before(async () => {
    s3 = await new LocalS3(['metering', 'fail', 'down', 'slow', 'bp', 'routed-a', 'routed-default']).start();
    client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    client?.destroy();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    await s3?.dispose();
  });

  it('uploads every record with the content headers, SSE and storage class accepted', async () => {
    const { svc, source } = await startPipeline(s3Yaml('s3', s3.endpoint, 'metering', '\n    server_side_encryption: AES256\n    storage_class: STANDARD'), [
      's3',
    ]);
    const sent = records(2000);
    await emitAll(source, sent, 101);
    await svc.shutdown(20_000);
    const objects = await listS3(client, 'metering');
    assert.equal(objects.length, 40);
    for (const o of objects) {
      checkKey(o.key, 'litellm-metering', o.body);
      assert.equal(o.contentType, 'application/json');
      assert.equal(o.contentEncoding, 'gzip');
    }
    assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(sent));
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_records_total', { exporter: 's3' }), 2000);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 's3' }), 0);
  });

  it('re-sending the same batch overwrites the same object (content-derived key)', async () => {
    const { svc, source } = await startPipeline(s3Yaml('s3', s3.endpoint, 'metering'), ['s3'], 'send_batch_size: 10\n    timeout: 60s');
    const before = (await listS3(client, 'metering')).length;
    const sent = records(10, { from: 5_000 });
    await source.emit(sent);
    await source.emit(sent);
    await svc.shutdown(10_000);
    const after = await listS3(client, 'metering');
    assert.equal(after.length, before + 1, 'two uploads of identical content, one object');
  });

  it('500s and 503 + Retry-After: retried, visible in metrics, nothing lost', async () => {
    const proxy = await new FaultProxy(() => s3.port).start();
    let putCount = 0;
    proxy.plan = (req) => {
      if (req.method !== 'PUT') return 'pass';
      putCount++;
      if (putCount % 3 === 1) return { status: 500 };
      if (putCount % 3 === 2) return { status: 503, headers: { 'retry-after': '0' } };
      return 'pass';
    };
    const { svc, source } = await startPipeline(s3Yaml('s3/faulty', `http://127.0.0.1:${proxy.port}`, 'fail'), ['s3/faulty']);
    const sent = records(500);
    await emitAll(source, sent);
    await svc.shutdown(30_000);
    await proxy.stop();
    const objects = await listS3(client, 'fail');
    assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(sent));
    const retries = await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 's3/faulty' });
    assert.equal(retries, 2 * objects.length, 'two failed attempts per object, each retried');
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_failed_attempts_total', { exporter: 's3/faulty' }), retries);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_records_total', { exporter: 's3/faulty' }), 500);
  });

  it('slow responses: the per-attempt timeout fires and the retry succeeds', async () => {
    const proxy = await new FaultProxy(() => s3.port).start();
    let puts = 0;
    proxy.plan = (req) => (req.method === 'PUT' && ++puts % 2 === 1 ? 'slow' : 'pass');
    const { svc, source } = await startPipeline(s3Yaml('s3/slow', `http://127.0.0.1:${proxy.port}`, 'slow').replace('timeout: 2s', 'timeout: 300ms'), [
      's3/slow',
    ]);
    const sent = records(120);
    await emitAll(source, sent);
    await svc.shutdown(30_000);
    await proxy.stop();
    const objects = await listS3(client, 'slow');
    assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(sent));
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 's3/slow' }), objects.length);
  });

  it('no write-ahead log, server down: exporter retries, then gives up to the batch processor, which keeps the batch; all delivered once the server is back', async () => {
    const down = await new LocalS3(['down']).start();
    const port = down.port;
    await down.stop();
    try {
      const { svc, source } = await startPipeline(
        s3Yaml('s3/down', down.endpoint, 'down').replace('max_elapsed_time: 60s', 'max_elapsed_time: 300ms'),
        ['s3/down'],
        'send_batch_size: 50\n    timeout: 60s\n    retry_initial_interval: 50ms\n    retry_max_interval: 200ms',
        { durable: false },
      );
      const sent = records(300);
      await emitAll(source, sent);
      const reg = svc.metrics.registry;
      await waitFor(async () => (await metric(reg, 'spanmeter_exporter_gave_up_batches_total', { exporter: 's3/down' })) >= 2, 'the exporter to give up twice');
      assert.ok((await metric(reg, 'spanmeter_exporter_retries_total', { exporter: 's3/down' })) > 0);
      assert.ok((await metric(reg, 'spanmeter_processor_batch_send_failures_total')) >= 1, 'batch processor saw the failures');
      assert.equal(await metric(reg, 'spanmeter_processor_batch_pending_records'), 300, 'nothing dropped while down');
      assert.equal(await metric(reg, 'spanmeter_exporter_sent_records_total', { exporter: 's3/down' }), 0);
      assert.ok((await metric(reg, 'spanmeter_exporter_send_failed_records_total', { exporter: 's3/down' })) > 0);
      down.port = port;
      await down.start();
      await waitFor(async () => (await metric(reg, 'spanmeter_processor_batch_pending_records')) === 0, 'the backlog to drain');
      await svc.shutdown(20_000);
      const c2 = new S3Client({ region: 'us-east-1', endpoint: down.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const objects = await listS3(c2, 'down');
      c2.destroy();
      assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(sent));
      assert.equal(await metric(reg, 'spanmeter_exporter_sent_records_total', { exporter: 's3/down' }), 300);
    } finally {
      await down.dispose();
    }
  });

  it('no write-ahead log, a dead store pushes back: the batch buffer is bounded and the receiver gets BackpressureError', async () => {
    const proxy = await new FaultProxy(() => s3.port).start();
    let healthy = false;
    proxy.plan = (req) => (req.method === 'PUT' && !healthy ? { status: 500 } : 'pass');
    const { svc, source } = await startPipeline(
      s3Yaml('s3/bp', `http://127.0.0.1:${proxy.port}`, 'bp'),
      ['s3/bp'],
      'send_batch_size: 50\n    timeout: 60s\n    max_pending_records: 200',
      { durable: false },
    );
    const accepted: MeterRecord[] = [];
    let refused = 0;
    for (let i = 0; i < 10; i++) {
      const req = records(50, { from: i * 50 });
      try {
        await source.emit(req);
        accepted.push(...req);
      } catch (e) {
        assert.ok(e instanceof BackpressureError, `expected back-pressure, got ${String(e)}`);
        refused++;
      }
    }
    assert.equal(accepted.length, 200, 'exactly max_pending_records accepted');
    assert.equal(refused, 6);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_processor_batch_refused_records_total'), 300);
    healthy = true;
    await svc.shutdown(30_000);
    await proxy.stop();
    const objects = await listS3(client, 'bp');
    assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(accepted));
  });

  it('durable: server down → objects wait in the spool (acknowledged, nothing in memory), survive a restart, and are all uploaded when it is back', async () => {
    const down = await new LocalS3(['outage']).start();
    const port = down.port;
    await down.stop();
    const dataDir = join(tmpRoot, 'durable-outage');
    try {
      const run1 = await startPipeline(s3Yaml('s3/outage', down.endpoint, 'outage'), ['s3/outage'], 'send_batch_size: 40\n    timeout: 60s', { dataDir });
      const sent = records(400);
      await emitAll(run1.source, sent);
      const reg1 = run1.svc.metrics.registry;
      await waitFor(async () => (await metric(reg1, 'spanmeter_exporter_spool_objects', { exporter: 's3/outage' })) === 10, 'ten objects spooled');
      await waitFor(async () => (await metric(reg1, 'spanmeter_exporter_retries_total', { exporter: 's3/outage' })) > 0, 'retries');
      assert.equal(await metric(reg1, 'spanmeter_processor_batch_pending_records'), 0, 'batches left memory once spooled');
      assert.equal(await metric(reg1, 'spanmeter_exporter_sent_records_total', { exporter: 's3/outage' }), 0);
      await run1.svc.shutdown(500); // the store is still down: objects stay in the spool
      const spoolDir = join(dataDir, 'exporters', 's3_outage', 'spool');
      assert.equal(readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length, 10, 'spool files kept across shutdown');

      down.port = port;
      await down.start();
      const run2 = await startPipeline(s3Yaml('s3/outage', down.endpoint, 'outage'), ['s3/outage'], 'send_batch_size: 40\n    timeout: 60s', { dataDir });
      const reg2 = run2.svc.metrics.registry;
      await waitFor(async () => (await metric(reg2, 'spanmeter_exporter_spool_objects', { exporter: 's3/outage' })) === 0, 'the spool to drain');
      await run2.svc.shutdown(10_000);
      const c2 = new S3Client({ region: 'us-east-1', endpoint: down.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const objects = await listS3(c2, 'outage');
      c2.destroy();
      assert.equal(objects.length, 10);
      assert.deepEqual(sorted(objects.flatMap((o) => o.body)), sorted(sent));
      assert.equal(await metric(reg2, 'spanmeter_exporter_sent_records_total', { exporter: 's3/outage' }), 400);
    } finally {
      await down.dispose();
    }
  });

  it('routes business units to their own bucket and prefix, others to the default', async () => {
    const { svc, source } = await startPipeline(
      s3Yaml(
        's3',
        s3.endpoint,
        'routed-default',
        '\n    routing:\n      dimension: business_unit_id\n      routes:\n        bu-a: { bucket: routed-a, path: bu-a/metering }',
      ),
      ['s3'],
      'send_batch_size: 25\n    timeout: 60s\n    partition_by: [business_unit_id]',
    );
    const sent = records(300, { bu: (i) => (i % 3 === 0 ? 'bu-a' : i % 3 === 1 ? 'bu-z' : undefined) });
    await emitAll(source, sent);
    await svc.shutdown(20_000);
    const a = await listS3(client, 'routed-a');
    const d = await listS3(client, 'routed-default');
    for (const o of a) checkKey(o.key, 'bu-a/metering', o.body);
    for (const o of d) checkKey(o.key, 'litellm-metering', o.body);
    assert.deepEqual(sorted(a.flatMap((o) => o.body)), sorted(sent.filter((r) => r.dimensions?.business_unit_id === 'bu-a')));
    assert.deepEqual(sorted(d.flatMap((o) => o.body)), sorted(sent.filter((r) => r.dimensions?.business_unit_id !== 'bu-a')));
  });
});

// ---------------------------------------------------------------------------------------------
describe('azureblob exporter against Azurite, end to end', () => {
  const azurite = new LocalAzurite();
  let skip: string | false = false;
  before(async () => {
    if (!LocalAzurite.available()) {
      skip = 'azurite is not installed (npm install --save-dev azurite)';
      return;
    }
    await azurite.start();
  });
  after(() => azurite.stop());

  const blobs = async (container: string) => {
    const cc = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
    const out = [];
    for await (const b of cc.listBlobsFlat()) {
      const body = await cc.getBlockBlobClient(b.name).downloadToBuffer();
      out.push({ key: b.name, body: decode(body), contentType: b.properties.contentType, contentEncoding: b.properties.contentEncoding });
    }
    return out;
  };

  it('uploads every record (connection string), with content headers', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const { svc, source } = await startPipeline(
      `  azureblob:
    connection_string: "${azurite.connectionString}"
    container: metering
    create_container: true
    path: litellm-metering${FAST_RETRY}`,
      ['azureblob'],
    );
    const sent = records(1000);
    await emitAll(source, sent);
    await svc.shutdown(20_000);
    const got = await blobs('metering');
    assert.equal(got.length, 20);
    for (const o of got) {
      checkKey(o.key, 'litellm-metering', o.body);
      assert.equal(o.contentType, 'application/json');
      assert.equal(o.contentEncoding, 'gzip');
    }
    assert.deepEqual(sorted(got.flatMap((o) => o.body)), sorted(sent));
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_records_total', { exporter: 'azureblob' }), 1000);
  });

  it('account name + key, with 500s injected: retried, nothing lost', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const proxy = await new FaultProxy(() => azurite.port).start();
    let puts = 0;
    proxy.plan = (req) => (req.method === 'PUT' && !req.url?.includes('restype=container') && ++puts % 2 === 1 ? { status: 500 } : 'pass');
    const { svc, source } = await startPipeline(
      `  azureblob/key:
    account_name: devstoreaccount1
    account_key: ${(await import('./helpers/azurite.js')).AZURITE_KEY}
    account_url: http://127.0.0.1:${proxy.port}/devstoreaccount1
    container: keyed
    create_container: true
    path: p${FAST_RETRY}`,
      ['azureblob/key'],
    );
    const sent = records(300);
    await emitAll(source, sent);
    await svc.shutdown(20_000);
    await proxy.stop();
    const got = await blobs('keyed');
    assert.deepEqual(sorted(got.flatMap((o) => o.body)), sorted(sent));
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 'azureblob/key' }), got.length);
  });
});

// ---------------------------------------------------------------------------------------------
describe('amberflo exporter against a local ingest API, end to end', () => {
  interface Req {
    headers: IncomingMessage['headers'];
    records: MeterRecord[];
    rawBytes: number;
  }
  let server: Server;
  let port = 0;
  const accepted: Req[] = [];
  let script: (r: Req, n: number) => { status: number; body?: string; headers?: Record<string, string> } = () => ({ status: 200 });
  let n = 0;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          assert.equal(req.method, 'POST');
          assert.equal(req.url, '/ingest');
          assert.equal(req.headers['x-api-key'], 'test-key');
          assert.equal(req.headers['content-type'], 'application/json');
          assert.equal(req.headers['content-encoding'], 'gzip');
          const raw = gunzipSync(Buffer.concat(chunks));
          const recs = JSON.parse(raw.toString('utf8')) as MeterRecord[];
          const r = { headers: req.headers, records: recs, rawBytes: raw.length };
          const reply = script(r, ++n);
          if (reply.status === 200) accepted.push(r);
          res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
          res.end(reply.body ?? (reply.status === 200 ? `${recs.length} records were ingested` : 'error'));
        } catch (e) {
          res.writeHead(599);
          res.end(String(e));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const yaml = (extra = '') => `  amberflo:
    endpoint: http://127.0.0.1:${port}
    api_key: test-key${FAST_RETRY}${extra}`;

  it('posts ≤1000 records and ≤1 MB per request; 429 (Retry-After) and 500 are retried; every record arrives', async () => {
    accepted.length = 0;
    n = 0;
    script = (_r, i) =>
      i % 4 === 1 ? { status: 429, headers: { 'retry-after': '0' } } : i % 4 === 2 ? { status: 500, body: '{"message":"boom"}' } : { status: 200 };
    const { svc, source } = await startPipeline(yaml(), ['amberflo'], 'send_batch_size: 2500\n    timeout: 60s');
    const sent = records(5000);
    await emitAll(source, sent, 500);
    await svc.shutdown(30_000);
    assert.deepEqual(sorted(accepted.flatMap((r) => r.records)), sorted(sent));
    for (const r of accepted) {
      assert.ok(r.records.length <= 1000, `request of ${r.records.length} records`);
      assert.ok(r.rawBytes <= 1_000_000);
    }
    const retries = await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 'amberflo' });
    assert.ok(retries >= 4, `retries visible in metrics (${retries})`);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_sent_records_total', { exporter: 'amberflo' }), 5000);
  });

  it('splits by bytes when records are large', async () => {
    accepted.length = 0;
    script = () => ({ status: 200 });
    const { svc, source } = await startPipeline(yaml('\n    max_bytes_per_request: 20000'), ['amberflo'], 'send_batch_size: 500\n    timeout: 60s');
    const sent = records(500).map((r) => ({ ...r, dimensions: { ...r.dimensions, pad: 'x'.repeat(300) } }));
    await emitAll(source, sent, 500);
    await svc.shutdown(10_000);
    assert.ok(accepted.length > 1);
    for (const r of accepted) assert.ok(r.rawBytes <= 20_000, `${r.rawBytes} bytes`);
    assert.deepEqual(sorted(accepted.flatMap((r) => r.records)), sorted(sent));
  });

  it('400 → dead-letter folder with the response body and a metric; other batches still delivered', async () => {
    accepted.length = 0;
    script = (r) =>
      r.records.some((x) => x.customerId === 'bad') ? { status: 400, body: '{"errorMessage":"customerId bad is not allowed"}' } : { status: 200 };
    const { svc, source, dataDir } = await startPipeline(yaml(), ['amberflo'], 'send_batch_size: 10\n    timeout: 60s');
    const good = records(30);
    const bad = records(10, { from: 100 }).map((r) => ({ ...r, customerId: 'bad' }));
    await source.emit(good.slice(0, 10));
    await source.emit(bad);
    await source.emit(good.slice(10));
    await svc.shutdown(10_000);
    assert.deepEqual(sorted(accepted.flatMap((r) => r.records)), sorted(good));
    const dl = join(dataDir, 'exporters', 'amberflo', 'dead-letter');
    const files = readdirSync(dl).sort();
    assert.equal(files.length, 2);
    const body = files.find((f) => f.endsWith('.json.gz'))!;
    const meta = JSON.parse(
      readFileSync(
        join(
          dl,
          files.find((f) => f.endsWith('.response.json'))!,
        ),
        'utf8',
      ),
    ) as { status: number; response: string; records: number };
    assert.deepEqual(decode(readFileSync(join(dl, body))), bad);
    assert.equal(meta.status, 400);
    assert.match(meta.response, /customerId bad is not allowed/);
    assert.equal(meta.records, 10);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_dead_lettered_records_total', { exporter: 'amberflo' }), 10);
    assert.equal(await metric(svc.metrics.registry, 'spanmeter_exporter_retries_total', { exporter: 'amberflo' }), 0, '400 is not retried');
  });
});

// ---------------------------------------------------------------------------------------------
/**
 * s3rver 3.7 ignores `If-None-Match` on PUT (AWS S3 has honoured it since 2024: 412 when the key
 * exists). This proxy in front of it implements that, as S3 documents it, so that the exporter's
 * answer to a 412 runs against a real store. `denyReads` answers GETs 403 (a write-only key).
 */
class ConditionalPutProxy {
  private server?: Server;
  port = 0;
  denyReads = false;
  preconditionFailures = 0;
  conditionalPuts = 0;
  constructor(private readonly target: () => number) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private forward(
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer | null,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const up = httpRequest({ host: '127.0.0.1', port: this.target(), method, path, headers }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 502, headers: r.headers, body: Buffer.concat(chunks) }));
        r.on('error', reject);
      });
      up.on('error', reject);
      up.end(body ?? undefined);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = req.url ?? '/';
    if (req.method === 'GET' && this.denyReads) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
      return;
    }
    if (req.method === 'PUT' && req.headers['if-none-match'] === '*') {
      this.conditionalPuts++;
      const { 'if-none-match': _, 'content-length': __, ...rest } = req.headers;
      const head = await this.forward('HEAD', path, { ...rest, 'content-length': '0' }, null);
      if (head.status === 200) {
        this.preconditionFailures++;
        res.writeHead(412, { 'content-type': 'application/xml' });
        res.end(
          '<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>',
        );
        return;
      }
    }
    const r = await this.forward(req.method ?? 'GET', path, req.headers, body);
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

describe('object stores: an object is never written over another with the same key', () => {
  const t = Date.UTC(2026, 10, 23, 12, 34, 56);
  const a = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 1, uniqueId: 'a' }], { path: 'p' });
  const b = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 2, uniqueId: 'b' }], { path: 'p' });
  // b as if its JSON had a's CRC-32 (exporters/file/file.test.ts has two real batches that do).
  const collided = { ...b, key: a.key };
  // a compressed at another level, as another zlib could after an upgrade: the same records.
  const aLevel9 = { ...a, body: encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 1, uniqueId: 'a' }], { path: 'p', gzipLevel: 9 }).body };
  const signal = new AbortController().signal;

  it('s3: 412 → the object there is read; other records → the derived key; the same records → nothing new', async () => {
    const s3 = await new LocalS3(['nr', 'nr-deny', 'nr-off']).start();
    const proxy = await new ConditionalPutProxy(() => s3.port).start();
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const sinkFor = (conditional_put: boolean) =>
      new S3Sink(
        configOf(s3Factory, {
          bucket: 'x',
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${proxy.port}`,
          force_path_style: true,
          access_key_id: S3RVER_CREDENTIALS.accessKeyId,
          secret_access_key: S3RVER_CREDENTIALS.secretAccessKey,
          conditional_put,
        }),
      );
    const sink = sinkFor(true);
    const keysIn = async (bucket: string) => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
    const bodyOf = async (bucket: string, key: string) =>
      Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    try {
      const dest = { bucket: 'nr', path: 'p', label: 's3://nr' };
      await sink.put(a, dest, signal);
      await sink.put(collided, dest, signal);
      assert.deepEqual(await keysIn('nr'), [a.key, alternateKey(a.key, 1)].sort());
      assert.deepEqual(await bodyOf('nr', a.key), a.body, 'the first object is intact');
      assert.deepEqual(await bodyOf('nr', alternateKey(a.key, 1)), b.body);
      // Re-deliveries (a lost response, a replay after a crash) find their own objects.
      await sink.put(a, dest, signal);
      await sink.put(collided, dest, signal);
      await sink.put(aLevel9, dest, signal);
      assert.deepEqual(await keysIn('nr'), [a.key, alternateKey(a.key, 1)].sort());
      assert.deepEqual(await bodyOf('nr', a.key), a.body);
      assert.equal(proxy.conditionalPuts, 7, 'every PUT carried If-None-Match: *');
      assert.equal(proxy.preconditionFailures, 5, 'the taken keys were found by a 412, not by a read first');

      // A credential that cannot read: an object that may be this one is kept, and this one is
      // written under the derived key (a duplicate at worst, never a loss).
      const deny = { bucket: 'nr-deny', path: 'p', label: 's3://nr-deny' };
      await sink.put(a, deny, signal);
      proxy.denyReads = true;
      await sink.put(collided, deny, signal);
      proxy.denyReads = false;
      assert.deepEqual(await keysIn('nr-deny'), [a.key, alternateKey(a.key, 1)].sort());
      assert.deepEqual(await bodyOf('nr-deny', a.key), a.body);

      // conditional_put: false (stores that reject the header): a plain PUT, which overwrites.
      const before = proxy.conditionalPuts;
      const off = sinkFor(false);
      const plain = { bucket: 'nr-off', path: 'p', label: 's3://nr-off' };
      await off.put(a, plain, signal);
      await off.put(collided, plain, signal);
      assert.equal(proxy.conditionalPuts, before);
      assert.deepEqual(await keysIn('nr-off'), [a.key]);
      assert.deepEqual(await bodyOf('nr-off', a.key), b.body);
      await off.close();
    } finally {
      await sink.close();
      client.destroy();
      await proxy.stop();
      await s3.dispose();
    }
  });

  it('azureblob: the upload is conditional; other records → the derived key; the same records → nothing new', async (tc) => {
    if (!LocalAzurite.available()) {
      tc.skip('azurite is not installed');
      return;
    }
    const azurite = new LocalAzurite();
    await azurite.start();
    try {
      const cc = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('norepl');
      await cc.createIfNotExists();
      const sink = new AzureBlobSink(configOf(azureFactory, { container: 'norepl', connection_string: azurite.connectionString }));
      const dest = { container: 'norepl', path: 'p', label: 'azure://norepl' };
      const names = async () => {
        const out: string[] = [];
        for await (const x of cc.listBlobsFlat()) out.push(x.name);
        return out.sort();
      };
      await sink.put(a, dest, signal);
      await sink.put(collided, dest, signal);
      assert.deepEqual(await names(), [a.key, alternateKey(a.key, 1)].sort());
      assert.deepEqual(await cc.getBlockBlobClient(a.key).downloadToBuffer(), a.body, 'the first blob is intact');
      assert.deepEqual(await cc.getBlockBlobClient(alternateKey(a.key, 1)).downloadToBuffer(), b.body);
      await sink.put(a, dest, signal);
      await sink.put(collided, dest, signal);
      await sink.put(aLevel9, dest, signal);
      assert.deepEqual(await names(), [a.key, alternateKey(a.key, 1)].sort());
      assert.deepEqual(await cc.getBlockBlobClient(a.key).downloadToBuffer(), a.body);

      // A credential that cannot read (403 on GET): the blob there is kept, this one goes to the
      // next derived key.
      const proxy = await new FaultProxy(() => azurite.port).start();
      proxy.plan = (req) => (req.method === 'GET' ? { status: 403 } : 'pass');
      const { AZURITE_KEY } = await import('./helpers/azurite.js');
      const writeOnly = new AzureBlobSink(
        configOf(azureFactory, {
          container: 'norepl',
          account_name: 'devstoreaccount1',
          account_key: AZURITE_KEY,
          account_url: `http://127.0.0.1:${proxy.port}/devstoreaccount1`,
        }),
      );
      const c = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 3, uniqueId: 'c' }], { path: 'p' });
      try {
        await writeOnly.put({ ...c, key: a.key }, dest, signal);
      } finally {
        await proxy.stop();
      }
      assert.deepEqual(await names(), [a.key, alternateKey(a.key, 1), alternateKey(a.key, 2)].sort());
      assert.deepEqual(await cc.getBlockBlobClient(a.key).downloadToBuffer(), a.body);
      assert.deepEqual(await cc.getBlockBlobClient(alternateKey(a.key, 2)).downloadToBuffer(), c.body);
    } finally {
      await azurite.stop();
    }
  });
});

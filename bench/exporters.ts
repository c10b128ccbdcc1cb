/**
 * Exporter throughput against local servers: records/s and MB/s per exporter.
 *
 *   npx tsc -p tsconfig.json --outDir .tmp/x && node .tmp/x/bench/exporters.js [--records 20000] [--batch 100] [--concurrency 1,4] [--durable]
 *
 * --durable: exporters run as with the write-ahead log on: `consume` spools each object to disk
 * (fsync) and a background uploader sends it; the time runs until the spool is empty.
 *
 * Each exporter is created from its factory (direct mode: no write-ahead log, `consume` resolves
 * when the object is stored) and fed batches of realistic meter records; `concurrency` batches are
 * in flight at once (like that many batch partitions). MB/s counts uncompressed JSON; the gzip
 * bytes on the wire are shown too. Servers: local files (tmpfs or disk under os.tmpdir()), s3rver
 * (in-process), Azurite (child process), a local HTTP ingest server (in-process). All on 127.0.0.1;
 * the servers share the machine's cores with the exporter, so figures are lower bounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Exporter, ExporterFactory } from '../src/component.js';
import { configOf } from '../src/config/component-config.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { encodeBatch } from '../integrations/amberflo/objects.js';
import { ServiceMetrics } from '../src/telemetry/metrics.js';
import amberflo from '../exporters/amberflo/index.js';
import azureblob from '../exporters/azureblob/index.js';
import file from '../exporters/file/index.js';
import s3 from '../exporters/s3/index.js';
import { LocalAzurite } from '../test/helpers/azurite.js';
import { LocalS3, S3RVER_CREDENTIALS } from '../test/helpers/s3rver.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1,4' },
    durable: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
// --quick (from `npm run bench -- --quick`): a quarter of the records.
const N = args.quick ? Math.max(1000, Math.floor(Number(args.records) / 4)) : Number(args.records);
const B = Number(args.batch);
const CONC = args.concurrency.split(',').map(Number);

const models = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'gemini-1.5-pro'];
function records(n: number, from = 0): MeterRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      meterApiName: i % 2 ? 'llm-output-tokens' : 'llm-input-tokens',
      meterTimeInMillis: Date.UTC(2026, 10, 23, 12, 0, 0) + i * 37,
      meterValue: (i * 7919) % 4000,
      customerId: `team-${i % 50}`,
      uniqueId: `chatcmpl-${i.toString(16).padStart(12, '0')}-${i % 2 ? 'out' : 'in'}`,
      dimensions: {
        model: models[i % 4]!,
        provider: 'openai',
        hosted_env: 'prod',
        business_unit_id: `bu-${i % 5}`,
        key_alias: `key-${i % 20}`,
        user_id: `user-${i % 300}`,
      },
    };
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'spanmeter-bench-exp-'));
let seq = 0;
function create(f: ExporterFactory, cfg: Record<string, unknown>): Exporter<MeterRecord[]> {
  const metrics = new ServiceMetrics('bench', { processMetrics: false });
  const id = `${f.type}/${++seq}`;
  // A key prefix per exporter instance (those that declare `path`): each run writes new objects (a
  // run over the previous run's keys would measure re-deliveries, which read the object there to
  // compare it).
  const declared = (f.configSchema as { properties?: Record<string, unknown> }).properties ?? {};
  const path = 'path' in declared ? { path: `bench-${seq}` } : {};
  return f.create({
    id,
    config: configOf(f, { ...path, ...cfg }),
    logger: pino({ level: 'silent' }),
    registry: metrics.registry,
    metrics: metrics.forComponent('exporter', id),
    dataDir: join(tmp, `d${seq}`),
    instanceId: 'bench',
    storage: { durable: args.durable },
  });
}

const batches: MeterRecord[][] = [];
for (let i = 0; i < N; i += B) batches.push(records(Math.min(B, N - i), i));
const rawBytes = batches.reduce((s, b) => s + Buffer.byteLength(JSON.stringify(b)), 0);
const gzBytes = batches.reduce((s, b) => s + encodeBatch(b, { path: 'p' }).body.length, 0);

interface Row {
  exporter: string;
  concurrency: number;
  seconds: number;
}
const rows: Row[] = [];

async function run(name: string, mk: () => Exporter<MeterRecord[]>): Promise<void> {
  for (const c of CONC) {
    const ex = mk();
    await ex.start?.({ reportFatalError: () => undefined, setHealthDetail: () => undefined });
    await ex.consume(records(10, 10_000_000)); // warm-up (connections, JIT)
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: c }, async () => {
        for (let i = next++; i < batches.length; i = next++) await ex.consume(batches[i]!);
      }),
    );
    await ex.shutdown?.(Date.now() + 120_000); // durable: waits until the spool is uploaded
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    rows.push({ exporter: name, concurrency: c, seconds });
    console.error(`${name} c=${c}: ${(N / seconds).toFixed(0)} records/s`);
  }
}

// Encoding alone (JSON + gzip + hash), the CPU floor of every object exporter.
{
  const t0 = process.hrtime.bigint();
  for (const b of batches) encodeBatch(b, { path: 'p' });
  rows.push({ exporter: 'encode only (no I/O)', concurrency: 1, seconds: Number(process.hrtime.bigint() - t0) / 1e9 });
}

await run('file', () => create(file, { directory: join(tmp, 'out') }));

const s3srv = await new LocalS3(['bench']).start();
await run('s3 (s3rver)', () =>
  create(s3, {
    bucket: 'bench',
    region: 'us-east-1',
    endpoint: s3srv.endpoint,
    force_path_style: true,
    access_key_id: S3RVER_CREDENTIALS.accessKeyId,
    secret_access_key: S3RVER_CREDENTIALS.secretAccessKey,
  }),
);
await s3srv.dispose();

if (LocalAzurite.available()) {
  const az = await new LocalAzurite().start();
  await run('azureblob (Azurite)', () => create(azureblob, { connection_string: az.connectionString, container: 'bench', create_container: true }));
  await az.stop();
}

let ingested = 0;
const api = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    ingested++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
await run('amberflo (local ingest API)', () => create(amberflo, { api_key: 'k', endpoint: `http://127.0.0.1:${(api.address() as AddressInfo).port}/ingest` }));
api.close();

rmSync(tmp, { recursive: true, force: true });
console.log(
  `\n${args.durable ? 'DURABLE (spool + uploader). ' : ''}${N} records in batches of ${B}: ${(rawBytes / 1e6).toFixed(2)} MB of JSON, ${(gzBytes / 1e6).toFixed(2)} MB gzip (${(rawBytes / gzBytes).toFixed(1)}x); Node ${process.version}\n`,
);
console.log('| exporter | concurrency | records/s | MB/s (JSON) | MB/s (gzip, wire) | objects/s |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.exporter} | ${r.concurrency} | ${(N / r.seconds).toFixed(0)} | ${(rawBytes / 1e6 / r.seconds).toFixed(2)} | ${(gzBytes / 1e6 / r.seconds).toFixed(2)} | ${(batches.length / r.seconds).toFixed(0)} |`,
  );
}
console.log(`\n(${ingested} ingest requests served)`);

/**
 * `spanmeter report`: usage per day × team × key × model read back from the objects the
 * exporters wrote — the file exporter's directory, S3 (s3rver) and Azure Blob (Azurite) — checked
 * against the calls the records came from, and the same table from all three stores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FileSink } from '../exporters/file/file.js';
import { S3Sink } from '../exporters/s3/s3.js';
import s3Factory from '../exporters/s3/index.js';
import { AzureBlobSink } from '../exporters/azureblob/azureblob.js';
import azureFactory from '../exporters/azureblob/index.js';
import { EMBEDDED_CONFIG } from '../src/cli.js';
import { configOf } from '../src/config/component-config.js';
import { reportCommand } from '../src/report/command.js';
import { reportFormat } from '../integrations/index.js';
import { LocalAzurite } from './helpers/azurite.js';
import { DAY0, expectedUsage, latencyClose, makeCalls, objectsOf } from './helpers/metering.js';
import { listFiles, runCli } from './helpers/process.js';
import { LocalS3, S3RVER_CREDENTIALS } from './helpers/s3rver.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-report-'));
const calls = makeCalls(600, 7);
const objects = objectsOf(calls, 25);
const DAY = 86_400_000;

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs `spanmeter report` in-process; resolves stdout, stderr and the exit code it set. */
async function report(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await reportCommand((given) => given ?? [EMBEDDED_CONFIG], reportFormat, { stdout, stderr, env }).parseAsync(args, { from: 'user' });
    // The command sets exitCode: the assignment above must not narrow what is read back.
    const code = process.exitCode as typeof before;
    return { stdout: stdout.text, stderr: stderr.text, code: Number(code ?? 0) };
  } finally {
    process.exitCode = before;
  }
}

const byGroup = (rows: Record<string, unknown>[]) => new Map(rows.map((r) => [[r.day, r.team, r.key, r.model].join('|'), r]));

/** Asserts report rows equal the oracle's: counts exactly, latency percentiles within the histogram's resolution. */
function assertUsage(actual: Record<string, unknown>[], expected: Record<string, unknown>[]) {
  const a = byGroup(actual);
  const e = byGroup(expected);
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort());
  for (const [k, want] of e) {
    const got = a.get(k)!;
    for (const f of ['calls', 'errors', 'input_tokens', 'cached_tokens', 'output_tokens', 'images']) assert.equal(got[f], want[f], `${k} ${f}`);
    for (const f of ['latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms'])
      assert.ok(latencyClose(got[f] as number, want[f] as number), `${k} ${f}: ${got[f]} vs ${want[f]}`);
  }
}

const range = ['--from', new Date(DAY0).toISOString(), '--to', new Date(DAY0 + 3 * DAY).toISOString()];

describe('spanmeter report', () => {
  const out = join(dir, 'out');
  before(async () => {
    const sink = new FileSink();
    for (const o of objects) await sink.put(o.obj, { directory: out, path: 'litellm-metering', label: 'test' }, AbortSignal.timeout(10_000));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("over the file exporter's directory: every day × team × key × model as the calls say", async () => {
    const r = await report(['--dir', out, ...range, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.objects, objects.length);
    assert.equal(
      body.records,
      objects.reduce((s, o) => s + o.records.length, 0),
    );
    assertUsage(body.rows, expectedUsage(calls));
    assert.match(r.stderr, /report: \d+\/\d+ hours listed, 24\/24 objects/);
  });

  it('a range takes only its records; csv and table carry the same figures', async () => {
    const from = DAY0 + DAY;
    const to = DAY0 + 2 * DAY + 6 * 3_600_000;
    const args = ['--dir', out, '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--quiet'];
    const json = JSON.parse((await report([...args, '--format', 'json'])).stdout);
    const want = expectedUsage(calls, from, to);
    assertUsage(json.rows, want);
    const csv = (await report([...args, '--format', 'csv'])).stdout.trim().split('\n');
    assert.equal(csv[0], 'day,team,key,model,calls,errors,input_tokens,cached_tokens,output_tokens,images,latency_p50_ms,latency_p95_ms,latency_p99_ms');
    assert.equal(csv.length, want.length + 1);
    const first = json.rows[0];
    assert.ok(
      csv.includes(
        Object.values(first)
          .map((v) => (v === null ? '' : String(v)))
          .join(','),
      ),
    );
    const table = (await report(args)).stdout;
    const totalCalls = want.reduce((s, r) => s + (r.calls as number), 0);
    assert.match(table, new RegExp(`^total\\s+${totalCalls.toLocaleString('en-US')}\\s`, 'm'));
    assert.match(
      table,
      new RegExp(`^${String(first.day)}\\s+${String(first.team)}\\s+${String(first.key)}\\s+${String(first.model)}\\s+${String(first.calls)}\\s`, 'm'),
    );
  });

  it('--by groups by fewer fields', async () => {
    const r = JSON.parse((await report(['--dir', out, ...range, '--by', 'team', '--format', 'json', '-q'])).stdout);
    const want = new Map<string, number>();
    for (const c of calls) want.set(c.teamId ?? 'unknown', (want.get(c.teamId ?? 'unknown') ?? 0) + c.usage.promptTokens);
    assert.deepEqual(new Map(r.rows.map((x: Record<string, unknown>) => [x.team, x.input_tokens])), want);
    assert.ok(r.rows.every((x: Record<string, unknown>) => x.day === '*' && x.model === '*'));
  });

  it('an object that cannot be read is named, left out, and the exit status says so', async () => {
    const bad = join(dir, 'bad');
    const sink = new FileSink();
    for (const o of objects.slice(0, 3)) await sink.put(o.obj, { directory: bad, path: 'litellm-metering', label: 'test' }, AbortSignal.timeout(10_000));
    const victim = listFiles(bad).find((f) => f.endsWith('.json.gz'))!;
    writeFileSync(join(bad, victim), 'not gzip');
    const r = await report(['--dir', bad, ...range, '--format', 'json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read .*merged_logs_[0-9a-f]{8}\.json\.gz: not gzip/);
    assert.equal(JSON.parse(r.stdout).objects, 2);
  });

  it('rejects absurd ranges and unknown fields with a clear message', async () => {
    let r = await report(['--dir', out, '--from', '1970-01-01']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--from: 1970-01-01T00:00:00.000Z is outside the years metering can have/);
    r = await report(['--dir', out, '--from', '2026-10-05', '--to', '2026-10-04']);
    assert.match(r.stderr, /the range is empty/);
    r = await report(['--dir', out, '--by', 'teams']);
    assert.match(r.stderr, /--by: unknown field "teams"/);
  });

  it('the same table over S3 (s3rver) and Azure Blob (Azurite) as over the directory, read through --config/--exporter', async (t) => {
    const fromDir = JSON.parse((await report(['--dir', out, ...range, '--format', 'json', '-q'])).stdout).rows;
    const s3 = await new LocalS3(['metering']).start();
    const azurite = LocalAzurite.available() ? await new LocalAzurite().start() : undefined;
    try {
      const s3cfg = configOf(s3Factory, {
        bucket: 'metering',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        force_path_style: true,
        access_key_id: S3RVER_CREDENTIALS.accessKeyId,
        secret_access_key: S3RVER_CREDENTIALS.secretAccessKey,
      });
      const s3sink = new S3Sink(s3cfg);
      for (const o of objects) await s3sink.put(o.obj, { bucket: 'metering', path: 'litellm-metering', label: 's3' }, AbortSignal.timeout(10_000));
      const yaml = join(dir, 'stores.yaml');
      writeFileSync(
        yaml,
        `receivers:\n  otlp:\nprocessors:\n  litellm:\n  amberflo:\n  batch:\nexporters:\n  s3:\n    bucket: metering\n    region: us-east-1\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n    access_key_id: S3RVER\n    secret_access_key: \${env:S3_SECRET}\n` +
          (azurite ? `  azureblob:\n    container: metering\n    connection_string: "${azurite.connectionString}"\n` : '') +
          `service:\n  pipelines:\n    metering:\n      receivers: [otlp]\n      processors: [litellm, amberflo, batch]\n      exporters: [s3${azurite ? ', azureblob' : ''}]\n`,
      );
      const viaS3 = await report(['--config', yaml, '--exporter', 's3', ...range, '--format', 'json', '-q'], { S3_SECRET: 'S3RVER' });
      assert.equal(viaS3.code, 0, viaS3.stderr);
      assert.equal(JSON.parse(viaS3.stdout).source, 's3://metering/litellm-metering');
      assert.deepEqual(JSON.parse(viaS3.stdout).rows, fromDir);
      const wrong = await report(['--config', yaml, '--exporter', 's4', ...range], { S3_SECRET: 'S3RVER' });
      assert.match(wrong.stderr, /--exporter s4: no such exporter writing objects .*did you mean "s3"/);
      if (!azurite) {
        t.skip('azurite is not installed (npm ci)');
        return;
      }
      const azcfg = configOf(azureFactory, { container: 'metering', connection_string: azurite.connectionString, create_container: true });
      const azsink = new AzureBlobSink(azcfg);
      await azsink.service.getContainerClient('metering').createIfNotExists();
      for (const o of objects) await azsink.put(o.obj, { container: 'metering', path: 'litellm-metering', label: 'az' }, AbortSignal.timeout(10_000));
      const viaAz = await report(['--config', yaml, '--exporter', 'azureblob', ...range, '--format', 'json', '-q'], { S3_SECRET: 'S3RVER' });
      assert.equal(viaAz.code, 0, viaAz.stderr);
      assert.deepEqual(JSON.parse(viaAz.stdout).rows, fromDir);
    } finally {
      await azurite?.stop();
      await s3.dispose();
    }
  });

  it('with the shipped pipeline.yaml, reads the exporter AFLO_BACKEND_TYPE makes active (here the file exporter)', async () => {
    const r = await report([...range, '--format', 'json', '-q'], { AFLO_BACKEND_TYPE: '', SPANMETER_OUT_DIR: out });
    assert.equal(r.code, 0, r.stderr);
    assertUsage(JSON.parse(r.stdout).rows, expectedUsage(calls));
  });

  it('is a command of the spanmeter binary', async () => {
    const cli = runCli(['report', '--dir', out, ...range, '--format', 'csv']);
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr());
    const lines = cli.stdout().trim().split('\n');
    assert.equal(lines.length, expectedUsage(calls).length + 1);
    assert.ok(readdirSync(out).length > 0);
  });
});

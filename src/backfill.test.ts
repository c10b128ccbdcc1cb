import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import amberflo from '../processors/amberflo/index.js';
import litellm from '../processors/litellm/index.js';
import litellmLogs from '../receivers/litellm_logs/index.js';
import { registerTestComponents } from '../test/helpers/components.js';
import { repoRoot } from '../test/helpers/paths.js';
import { backfillCommand, progressLine, runBackfill, summaryText } from './backfill.js';
import type { MeterRecord } from './data/meter-record.js';
import { ComponentRegistry, createRegistry } from './registry.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-backfill-'));
const slo = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'litellm', 'slo-anthropic-cache.json'), 'utf8')) as Record<string, unknown>;

function inputs(): string {
  const d = join(dir, `in-${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  writeFileSync(join(d, 'a.ndjson'), Array.from({ length: 5 }, (_, i) => JSON.stringify({ ...slo, id: `call-${i}` })).join('\n'));
  writeFileSync(join(d, 'b.json'), '{"broken": ');
  return d;
}

class Sink {
  text = '';
  write(s: string) {
    this.text += s;
    return true;
  }
}

describe('spanmeter backfill', () => {
  it('re-heads the llm_calls pipeline with the file receiver, leaves span-only pipelines out, reports progress and a summary', async () => {
    const registry = new ComponentRegistry();
    registerTestComponents(registry);
    for (const f of [litellm, amberflo, litellmLogs]) registry.register(f);
    const cfg = join(dir, 'pipeline.yaml');
    writeFileSync(
      cfg,
      `receivers:
  test_span_source:
processors:
  litellm: {}
  amberflo:
    mode: compat
    hosted_env: agent1
exporters:
  test_capture:
  test_capture/spans:
service:
  data_dir: ${join(dir, 'data')}
  pipelines:
    metering:
      receivers: [test_span_source]
      processors: [litellm, amberflo]
      exporters: [test_capture]
    raw_spans:
      receivers: [test_span_source]
      exporters: [test_capture/spans]
`,
    );
    const stderr = new Sink();
    const input = inputs();
    const r = await runBackfill({ files: [cfg], paths: [input], registry, env: {}, stderr: stderr as unknown as NodeJS.WritableStream, logger: pino({ level: 'silent' }) });
    assert.deepEqual(r.pipelines, ['metering']);
    assert.equal(r.files.callsRead, 5);
    assert.equal(r.files.filesRead, 1);
    assert.deepEqual(r.files.skipped.map((s) => s.path), [join(input, 'b.json')]);
    assert.deepEqual(r.written, { test_capture: 20 }, '5 calls × (call, ms, tokens in, tokens out)');
    assert.match(stderr.text, /backfill: 2\/2 files, 5 records, \d+ records\/s, .*\(100%\), ETA 0:00/);
    const text = summaryText(r);
    assert.match(text, /files: 1 read, 1 skipped \(of 2 found\)/);
    assert.match(text, /LLM calls read: 5/);
    assert.match(text, /skipped .*b\.json: not JSON or NDJSON \(line 1: /);
  });

  it('progress line: rate and ETA by bytes', () => {
    const line = progressLine({ filesTotal: 4, filesRead: 1, callsRead: 1000, invalidRecords: 0, skipped: [], invalid: [], bytesTotal: 4096, bytesDone: 1024 }, 2000);
    assert.equal(line, 'backfill: 1/4 files, 1000 records, 500 records/s, 1.0 KiB/4.0 KiB (25%), ETA 0:06');
  });

  it('with the built-in batch processor and file exporter: flushes on shutdown so the output files exist', async (t) => {
    let registry: ComponentRegistry;
    try {
      registry = await createRegistry();
    } catch (e) {
      t.skip(`built-in components do not load right now: ${(e as Error).message}`);
      return;
    }
    if (!registry.get('processor', 'batch') || !registry.get('exporter', 'file')) {
      t.skip('batch processor or file exporter not available');
      return;
    }
    const out = join(dir, 'out');
    const cfg = join(dir, 'files.yaml');
    writeFileSync(
      cfg,
      `receivers:
  litellm_logs:
    http:
      endpoint: "127.0.0.1:0"
processors:
  amberflo:
    mode: clean
  batch:
    send_batch_size: 1000
    timeout: 1h
exporters:
  file:
    directory: ${out}
service:
  data_dir: ${join(dir, 'data2')}
  pipelines:
    metering:
      receivers: [litellm_logs]
      processors: [amberflo, batch]
      exporters: [file]
`,
    );
    const r = await runBackfill({ files: [cfg], paths: [inputs()], registry, env: {}, stderr: new Sink() as unknown as NodeJS.WritableStream, logger: pino({ level: 'silent' }) });
    assert.equal(r.files.callsRead, 5);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(out);
    const gz = files.filter((f) => f.endsWith('.json.gz'));
    assert.ok(gz.length >= 1, `output written: ${files.join(', ')}`);
    const records = gz.flatMap((f) => JSON.parse(gunzipSync(readFileSync(f)).toString()) as MeterRecord[]);
    // 5 calls × (call, ms, cache r, cache c, cache n, out) = 30 records
    assert.equal(records.length, 30);
    assert.equal(r.written.file, 30);
    assert.ok(readdirSync(join(dir, 'data2')).includes('backfill'), 'state lives under <data_dir>/backfill');
  });

  it('the backfill subcommand: summary on stderr, exit code 1 when a file was skipped, 1 on a bad config', async (t) => {
    try {
      const r = await createRegistry();
      if (!r.get('processor', 'amberflo') || !r.get('receiver', 'litellm_logs') || !r.get('exporter', 'file')) throw new Error('components missing');
    } catch (e) {
      t.skip(`built-in components do not load right now: ${(e as Error).message}`);
      return;
    }
    const cfg = join(dir, 'cmd.yaml');
    writeFileSync(
      cfg,
      `receivers:\n  litellm_logs:\n    http:\n      endpoint: "127.0.0.1:0"\nprocessors:\n  amberflo: {}\nexporters:\n  file:\n    directory: ${join(dir, 'cmd-out')}\nservice:\n  data_dir: ${join(dir, 'data3')}\n  telemetry:\n    logs:\n      level: silent\n  pipelines:\n    m:\n      receivers: [litellm_logs]\n      processors: [amberflo]\n      exporters: [file]\n`,
    );
    const captured: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const saved = process.exitCode;
    process.stderr.write = ((chunk: string | Uint8Array) => (captured.push(String(chunk)), true)) as typeof process.stderr.write;
    let code1: typeof process.exitCode;
    let code2: typeof process.exitCode;
    try {
      await backfillCommand((given) => given ?? [cfg]).parseAsync(['node', 'backfill', inputs()]);
      code1 = process.exitCode;
      await backfillCommand(() => [join(dir, 'missing.yaml')]).parseAsync(['node', 'backfill', inputs()]);
      code2 = process.exitCode;
    } finally {
      process.stderr.write = write;
      process.exitCode = saved;
    }
    const text = captured.join('');
    assert.equal(code1, 1, 'one file was skipped');
    assert.match(text, /LLM calls read: 5/);
    assert.match(text, /records written by file: 30/);
    assert.equal(code2, 1);
    assert.match(text, /spanmeter backfill: invalid configuration/);
  });
});

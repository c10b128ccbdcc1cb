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
import { registerTestComponents } from './helpers/components.js';
import { repoRoot } from './helpers/paths.js';
import { backfillCommand, progressLine, runBackfill, summaryText } from '../src/backfill.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { ComponentRegistry, createRegistry } from '../src/registry.js';
import { backfillSource as source } from '../integrations/index.js';

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
    const r = await runBackfill({
      source,
      files: [cfg],
      paths: [input],
      registry,
      env: {},
      stderr: stderr as unknown as NodeJS.WritableStream,
      logger: pino({ level: 'silent' }),
    });
    assert.deepEqual(r.pipelines, ['metering']);
    assert.equal(r.files.callsRead, 5);
    assert.equal(r.files.filesRead, 1);
    assert.deepEqual(
      r.files.skipped.map((s) => s.path),
      [join(input, 'b.json')],
    );
    assert.deepEqual(r.written, { test_capture: 20 }, '5 calls × (call, ms, tokens in, tokens out)');
    assert.match(stderr.text, /backfill: 2\/2 files \(1 skipped\), 5 LLM calls, \d+ calls\/s, .*\(100%\), ETA 0:00/);
    const text = summaryText(r);
    assert.match(text, /files: 2 found: 1 read, 1 skipped/);
    assert.match(text, /LLM calls read: 5/);
    assert.match(text, /skipped .*b\.json: not JSON or NDJSON \(line 1: /);
  });

  it('progress line: rate and ETA by bytes', () => {
    const line = progressLine(
      { filesTotal: 4, filesRead: 1, callsRead: 1000, invalidRecords: 0, skipped: [], invalid: [], bytesTotal: 4096, bytesDone: 1024 },
      2000,
    );
    assert.equal(line, 'backfill: 1/4 files, 1000 LLM calls, 500 calls/s, 1.0 KiB/4.0 KiB (25%), ETA 0:06');
    const skipped = progressLine(
      { filesTotal: 4, filesRead: 1, callsRead: 10, invalidRecords: 0, skipped: [{ path: 'x', reason: 'r' }], invalid: [], bytesTotal: 0, bytesDone: 0 },
      1000,
    );
    assert.match(skipped, /^backfill: 2\/4 files \(1 skipped\), 10 LLM calls/);
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
    const r = await runBackfill({
      source,
      files: [cfg],
      paths: [inputs()],
      registry,
      env: {},
      stderr: new Sink() as unknown as NodeJS.WritableStream,
      logger: pino({ level: 'silent' }),
    });
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
    process.stderr.write = (chunk: string | Uint8Array) => (captured.push(String(chunk)), true);
    let code1: typeof process.exitCode;
    let code2: typeof process.exitCode;
    try {
      await backfillCommand((given) => given ?? [cfg], source).parseAsync(['node', 'backfill', inputs()]);
      code1 = process.exitCode;
      await backfillCommand(() => [join(dir, 'missing.yaml')], source).parseAsync(['node', 'backfill', inputs()]);
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

describe('spanmeter backfill: inputs, counts, --dry-run, --exporter', () => {
  const example = readFileSync(join(repoRoot(), 'examples', 'requests', 'litellm-v1.79-chat.otlp.json'), 'utf8');
  /** The shipped pipeline.yaml's metering pipeline, writing to `out`, state under `data`. */
  const shippedEnv = (d: string) => ({ SPANMETER_OUT_DIR: join(d, 'out'), SPANMETER_DATA_DIR: join(d, 'data') });
  const run = async (paths: string[], d: string, more: Partial<Parameters<typeof runBackfill>[0]> = {}) => {
    const stderr = new Sink();
    const stdout = new Sink();
    const r = await runBackfill({
      source,
      files: [join(repoRoot(), 'pipeline.yaml')],
      paths,
      env: shippedEnv(d),
      stderr: stderr as unknown as NodeJS.WritableStream,
      stdout: stdout as unknown as NodeJS.WritableStream,
      logger: pino({ level: 'silent' }),
      ...more,
    });
    return { r, stderr: stderr.text, stdout: stdout.text, summary: summaryText(r) };
  };
  const records = (out: string) => {
    const found: MeterRecord[] = [];
    const walk = (p: string) => {
      for (const n of readdirSync(p)) {
        const f = join(p, n);
        if (statSync(f).isDirectory()) walk(f);
        else found.push(...(JSON.parse(gunzipSync(readFileSync(f)).toString()) as MeterRecord[]));
      }
    };
    walk(out);
    return found;
  };

  it('reads OTLP/JSON span exports (one request per file, or one per line as a Collector writes them) and meters their LLM-call spans', async () => {
    const d = mkdtempSync(join(dir, 'otlp-'));
    const one = join(d, 'request.otlp.json');
    writeFileSync(one, example);
    // A Collector file exporter: one ExportTraceServiceRequest per line; here the same call twice
    // under other ids, and a request with service spans only (no LLM call).
    const req = JSON.parse(example) as {
      resourceSpans: { scopeSpans: { spans: { traceId: string; attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[];
    };
    const variant = (n: number) => {
      const r = structuredClone(req);
      for (const s of r.resourceSpans[0]!.scopeSpans[0]!.spans) {
        s.traceId = s.traceId.replace(/^.{4}/, `000${n}`);
        for (const a of s.attributes) if (a.key === 'gen_ai.response.id') a.value.stringValue = `chatcmpl-backfill-${n}`;
      }
      return JSON.stringify(r);
    };
    const serviceOnly = structuredClone(req);
    serviceOnly.resourceSpans[0]!.scopeSpans[0]!.spans = serviceOnly.resourceSpans[0]!.scopeSpans[0]!.spans.filter(
      (s) => !s.attributes.some((a) => a.key === 'llm.request.type'),
    );
    writeFileSync(join(d, 'collector.jsonl'), [variant(1), variant(2), JSON.stringify(serviceOnly)].join('\n') + '\n');
    const { r, summary } = await run([one, join(d, 'collector.jsonl')], d);
    assert.equal(r.files.filesRead, 2);
    assert.equal(r.files.callsRead, 3, 'three LLM-call spans');
    assert.equal(r.files.invalidRecords, 0);
    const got = records(join(d, 'out'));
    assert.deepEqual([...new Set(got.map((x) => x.uniqueId))].sort(), ['chatcmpl-backfill-1', 'chatcmpl-backfill-2', 'chatcmpl-example-0001']);
    assert.equal(got.length, 12, '3 calls × (call, ms, tokens in, tokens out)');
    assert.equal(r.written.file, 12);
    assert.match(summary, /records written by file: 12$/m);
    assert.doesNotMatch(summary, /s3|azureblob|amberflo/, 'dormant sinks are not listed');
  });

  it('counts every path once, read or skipped; a record of another format is named as such, with the formats backfill reads', async () => {
    const d = mkdtempSync(join(dir, 'counts-'));
    writeFileSync(join(d, 'a.ndjson'), Array.from({ length: 3 }, (_, i) => JSON.stringify({ ...slo, id: `c-${i}` })).join('\n'));
    writeFileSync(join(d, 'b.json'), JSON.stringify({ meterApiName: 'llm_api_call', meterValue: 1 }));
    writeFileSync(join(d, 'c.json'), 'garbage');
    const { r, stderr, summary } = await run([d, join(d, 'missing.json')], d);
    assert.equal(r.files.filesTotal, 4, 'three files found, one path missing');
    assert.equal(r.files.filesRead + r.files.skipped.length, r.files.filesTotal);
    assert.match(stderr, /^backfill: 4\/4 files \(2 skipped\), 3 LLM calls/m);
    assert.match(summary, /files: 4 found: 2 read, 2 skipped/);
    assert.match(
      summary,
      /invalid record in .*b\.json: record 1: neither a StandardLoggingPayload nor an OTLP\/JSON trace request \(keys: meterApiName, meterValue\)/,
    );
    assert.match(summary, /backfill reads LiteLLM StandardLoggingPayload objects .* or OTLP\/JSON trace requests/);
  });

  it('--dry-run writes nothing and prints each object the exporter would write; the summary adds up', async () => {
    const d = mkdtempSync(join(dir, 'dry-'));
    writeFileSync(join(d, 'a.ndjson'), Array.from({ length: 4 }, (_, i) => JSON.stringify({ ...slo, id: `dry-${i}` })).join('\n'));
    const { r, stdout, summary } = await run([join(d, 'a.ndjson')], d, { dryRun: true });
    assert.equal(r.dryRun, true);
    assert.ok(!statSync(d).isFile() && !readdirSync(d).includes('out'), 'no output directory');
    assert.ok(!readdirSync(d).includes('data'), 'no state under the data directory');
    const lines = stdout.trim().split('\n');
    assert.ok(lines.length >= 1);
    let total = 0;
    for (const l of lines) {
      const m = new RegExp(
        `^dry run: file would write ${join(d, 'out').replace(/[/.]/g, '\\$&')}/litellm-metering/\\d{4}/\\d\\d/\\d\\d/\\d\\d/\\d\\d/merged_logs_[0-9a-f]{8}\\.json\\.gz \\((\\d+) records\\)$`,
      ).exec(l);
      assert.ok(m, l);
      total += Number(m[1]);
    }
    assert.equal(total, r.written.file, 'the lines add up to the summary');
    assert.equal(r.objects?.file, lines.length);
    assert.match(
      summary,
      new RegExp(
        `^backfill dry run finished .*\\n  files: 1 found: 1 read, 0 skipped\\n  LLM calls read: 4\\n  records file would write: ${total} \\(in ${lines.length} objects?; nothing written\\)`,
        'm',
      ),
    );
  });

  it('--exporter sends to another exporter (defined in an extra --config file), and refuses an unknown or dormant one', async () => {
    const d = mkdtempSync(join(dir, 'exporter-'));
    writeFileSync(join(d, 'a.json'), example);
    const extra = join(d, 'backfill.yaml');
    writeFileSync(extra, `exporters:\n  file/backfill:\n    directory: ${join(d, 'backfill-out')}\n    path: history\n`);
    const files = [join(repoRoot(), 'pipeline.yaml'), extra];
    const { r } = await run([join(d, 'a.json')], d, { files, exporters: ['file/backfill'] });
    assert.deepEqual(r.written, { 'file/backfill': 4 });
    assert.equal(records(join(d, 'backfill-out', 'history')).length, 4);
    assert.ok(!readdirSync(d).includes('out'), 'the pipeline’s own sink got nothing');
    await assert.rejects(
      run([join(d, 'a.json')], d, { files, exporters: ['file/nope'] }),
      /--exporter file\/nope: no such exporter in the configuration \(exporters: .*file\/backfill.*\); define it in a --config file/,
    );
    await assert.rejects(
      run([join(d, 'a.json')], d, { files, exporters: ['s3'] }),
      /--exporter s3: it is dormant: the selector is \(unset\), active only for s3; name an active exporter/,
    );
  });
});

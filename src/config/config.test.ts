import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { registerTestComponents } from '../../test/helpers/components.js';
import type { DataType } from '../component.js';
import { ComponentRegistry } from '../registry.js';
import { formatError, loadConfig } from './config.js';
import { parseDuration } from './duration.js';
import { deepMerge, expandEnv } from './yaml-source.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-config-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}
function registry(): ComponentRegistry {
  const r = new ComponentRegistry();
  registerTestComponents(r);
  return r;
}

const GOOD = `receivers:
  test_source:
processors:
  test_tag:
    label: hello
exporters:
  test_capture:
service:
  pipelines:
    main:
      receivers: [test_source]
      processors: [test_tag]
      exporters: [test_capture]
`;

describe('env expansion', () => {
  const env = { A: 'alpha', N: '42', EMPTY: '' };
  it('expands ${env:VAR} and ${VAR}', () => {
    assert.deepEqual(expandEnv('x-${env:A}-${A}', env, true), { value: 'x-alpha-alpha', problems: [] });
  });
  it('uses the default when unset or empty', () => {
    assert.equal(expandEnv('${env:MISSING:-dflt}', env, true).value, 'dflt');
    assert.equal(expandEnv('${env:EMPTY:-dflt}', env, true).value, 'dflt');
    assert.equal(expandEnv('${env:MISSING:-}', env, true).value, '');
  });
  it('types a plain scalar that is exactly one reference', () => {
    assert.equal(expandEnv('${env:N}', env, true).value, 42);
    assert.equal(expandEnv('${env:MISSING:-true}', env, true).value, true);
    assert.equal(expandEnv('${env:N}', env, false).value, '42', 'quoted scalars stay strings');
    assert.equal(expandEnv('${env:N}s', env, true).value, '42s');
  });
  it('reports a missing variable without default', () => {
    const r = expandEnv('${env:NOPE}', env, true);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /NOPE is not set and has no default/);
  });
  it('keeps $$ as a literal $', () => {
    assert.equal(expandEnv('a$$b', env, true).value, 'a$b');
  });
  it('rejects a malformed reference', () => {
    assert.match(expandEnv('${env:1BAD}', env, true).problems[0]!, /not a valid environment reference/);
  });
});

describe('durations', () => {
  it('parses units and compounds', () => {
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('5s'), 5000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1.5s'), 1500);
  });
  it('rejects bare numbers and junk', () => {
    assert.throws(() => parseDuration('5'), /not a duration/);
    assert.throws(() => parseDuration('five seconds'), /not a duration/);
  });
});

describe('durations from environment variables (`${env:VAR}s`)', () => {
  const timeoutWith = async (env: Record<string, string>, ref = '${env:AFLO_FLUSH_INTERVAL:-300}s') => {
    const { config, errors } = await loadConfig([file(GOOD.replace('label: hello', `label: hello\n    timeout: ${ref}`))], registry(), { env });
    return { timeout: (config?.components.get('processor:test_tag')?.config as { timeout?: number } | undefined)?.timeout, errors: errors.map(formatError) };
  };

  it('a plain number takes the unit written after the reference, as the callback reads seconds', async () => {
    for (const [v, ms] of [
      ['300', 300_000],
      ['1.5', 1_500],
      ['0', 0],
      [' 60 ', 60_000],
    ] as const) {
      const { timeout, errors } = await timeoutWith({ AFLO_FLUSH_INTERVAL: v });
      assert.deepEqual(errors, [], v);
      assert.equal(timeout, ms, `AFLO_FLUSH_INTERVAL=${JSON.stringify(v)}`);
    }
    assert.equal((await timeoutWith({})).timeout, 300_000, 'the default');
  });

  it('a duration is taken as it is', async () => {
    for (const [v, ms] of [
      ['5m', 300_000],
      ['60s', 60_000],
      ['1m30s', 90_000],
      ['250ms', 250],
    ] as const) {
      const { timeout, errors } = await timeoutWith({ AFLO_FLUSH_INTERVAL: v });
      assert.deepEqual(errors, [], v);
      assert.equal(timeout, ms, `AFLO_FLUSH_INTERVAL=${v}`);
    }
  });

  it('anything else is an error naming the variable and its value', async () => {
    const { errors } = await timeoutWith({ AFLO_FLUSH_INTERVAL: '5 minutes' });
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]!,
      /:6 processors\.test_tag\.timeout: environment variable AFLO_FLUSH_INTERVAL is "5 minutes": write a number \(of seconds, e\.g\. "300"\) or a duration \(e\.g\. "5m", "90s"\)$/,
    );
    const bad = await timeoutWith({}, '${env:SPANMETER_T:-soon}ms');
    assert.match(bad.errors[0]!, /the default of SPANMETER_T is "soon": write a number \(of milliseconds/);
    const unset = await timeoutWith({}, '${env:SPANMETER_T}s');
    assert.match(unset.errors[0]!, /environment variable SPANMETER_T is not set and has no default/);
  });
});

describe('deepMerge', () => {
  it('merges maps, replaces lists, keeps maps over empty values', () => {
    assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
    assert.deepEqual(deepMerge({ processors: { x: {} } }, { processors: null }), { processors: { x: {} } });
  });
});

describe('loadConfig', () => {
  it('accepts a valid config and applies defaults', async () => {
    const { config, errors } = await loadConfig([file(GOOD)], registry(), { env: {} });
    assert.deepEqual(errors, []);
    assert.ok(config);
    assert.deepEqual(
      config.pipelines.map((p) => [p.name, p.types]),
      [['main', ['meter_events', 'meter_events']]],
    );
    const tag = config.components.get('processor:test_tag')!;
    assert.deepEqual(tag.config, { label: 'hello', timeout: 1000 }, 'defaults filled in, the duration in milliseconds');
    assert.equal(config.service.metricsAddress, '127.0.0.1:8888');
    assert.equal(config.service.shutdownTimeoutMs, 30_000);
  });

  it('reports every error at once with file, line and key path', async () => {
    const broken = file(`receivers:
  test_source:
  nosuch_receiver:
processors:
  test_tag:
    labell: x
    timeout: soon
exporters:
  test_capture:
    delay_ms: \${env:SPANMETER_TEST_UNSET_VAR}
service:
  pipelines:
    main:
      receivers: [test_span_source_missing]
      processors: [test_tag]
      exporters: [test_capture]
`);
    const { config, errors } = await loadConfig([broken], registry(), { env: {} });
    assert.equal(config, undefined);
    const lines = errors.map(formatError);
    const base = broken;
    assert.ok(
      lines.includes(`${base}:3 receivers.nosuch_receiver: unknown receiver type "nosuch_receiver"; known receivers: test_source, test_span_source`),
      lines.join('\n'),
    );
    assert.ok(lines.includes(`${base}:6 processors.test_tag.labell: unknown key (did you mean "label"?)`), lines.join('\n'));
    assert.ok(lines.includes(`${base}:7 processors.test_tag.timeout: must be a duration like "5s", "300ms" or "1m30s", not "soon"`), lines.join('\n'));
    assert.ok(
      lines.includes(
        `${base}:10 exporters.test_capture.delay_ms: environment variable SPANMETER_TEST_UNSET_VAR is not set and has no default (write \${env:SPANMETER_TEST_UNSET_VAR:-default})`,
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith(`${base}:14 service.pipelines.main.receivers[0]: references receiver "test_span_source_missing", which is not defined`)),
      lines.join('\n'),
    );
    // Sorted by line.
    const nums = errors.map((e) => e.line ?? 0);
    assert.deepEqual(
      nums,
      [...nums].sort((a, b) => a - b),
    );
  });

  it('checks the data types linked between stages', async () => {
    const r = registry();
    r.register({
      kind: 'exporter',
      type: 'meter_only',
      description: 'consumes meter_events',
      stability: 'development',
      consumes: 'meter_events',
      configSchema: { type: 'object', additionalProperties: false },
      defaultConfig: () => ({}),
      create: () => ({ consume: async () => undefined }),
    });
    const p = file(`receivers:
  test_span_source:
exporters:
  meter_only:
service:
  pipelines:
    bad:
      receivers: [test_span_source]
      exporters: [meter_only]
`);
    const { errors } = await loadConfig([p], r, { env: {} });
    assert.deepEqual(errors.map(formatError), [
      `${p}:9 service.pipelines.bad.exporters[0]: exporter "meter_only" consumes meter_events but the pipeline delivers spans (from receiver "test_span_source")`,
    ]);
  });

  it('gives each pipeline one data type: the one its first stage consumes; logs for a logs pipeline when it consumes both', async () => {
    const r = registry();
    const exporter = (type: string, consumes: string[]) =>
      r.register({
        kind: 'exporter',
        type,
        description: `consumes ${consumes.join(', ')}`,
        stability: 'development',
        consumes: consumes as DataType[],
        configSchema: { type: 'object', additionalProperties: false },
        defaultConfig: () => ({}),
        create: () => ({ consume: async () => undefined }),
      });
    r.register({
      kind: 'receiver',
      type: 'spans_and_logs',
      description: 'produces spans, and logs',
      stability: 'development',
      produces: 'spans',
      alsoProduces: ['logs'],
      configSchema: { type: 'object', additionalProperties: false },
      defaultConfig: () => ({}),
      create: () => ({}),
    });
    exporter('forward', ['spans', 'logs']);
    exporter('logs_only', ['logs']);
    exporter('meter_only', ['meter_events']);
    const ok = file(`receivers:
  spans_and_logs:
  test_span_source:
exporters:
  forward:
  logs_only:
  test_capture:
service:
  pipelines:
    traces:
      receivers: [spans_and_logs]
      exporters: [forward]
    logs:
      receivers: [spans_and_logs]
      exporters: [forward]
    logs/second:
      receivers: [spans_and_logs]
      exporters: [forward]
    events:
      receivers: [spans_and_logs]
      exporters: [logs_only]
    spans_to_any:
      receivers: [spans_and_logs]
      processors: [test_tag]
      exporters: [test_capture]
    logs/spans_only:
      receivers: [spans_and_logs, test_span_source]
      exporters: [forward]
processors:
  test_tag:
`);
    const { config, errors } = await loadConfig([ok], r, { env: {} });
    assert.deepEqual(errors.map(formatError), []);
    assert.deepEqual(Object.fromEntries(config!.pipelines.map((p) => [p.name, p.types])), {
      traces: ['spans'],
      logs: ['logs'],
      'logs/second': ['logs'],
      events: ['logs'],
      spans_to_any: ['spans', 'spans'],
      'logs/spans_only': ['spans'],
    });

    const bad = file(`receivers:
  spans_and_logs:
  test_source:
exporters:
  logs_only:
  meter_only:
service:
  pipelines:
    neither:
      receivers: [spans_and_logs]
      exporters: [logs_only, meter_only]
    mixed:
      receivers: [spans_and_logs, test_source]
      exporters: [logs_only]
    spans:
      receivers: [spans_and_logs]
      exporters: [meter_only]
`);
    assert.deepEqual((await loadConfig([bad], r, { env: {} })).errors.map(formatError), [
      `${bad}:9 service.pipelines.neither: the pipeline can carry none of spans, logs (what its receivers produce): exporter "logs_only" consumes logs, exporter "meter_only" consumes meter_events; give each data type its own pipeline`,
      `${bad}:13 service.pipelines.mixed.receivers[1]: receiver "test_source" produces meter_events but receiver "spans_and_logs" produces spans or logs; receivers of one pipeline must produce the same data type`,
      `${bad}:17 service.pipelines.spans.exporters[0]: exporter "meter_only" consumes meter_events but the pipeline delivers spans (from receiver "spans_and_logs")`,
    ]);
  });

  it('merges several files in order, later values winning, with lines from the file that set them', async () => {
    const a = file(GOOD);
    const b = file(`processors:
  test_tag:
    timeout: never
service:
  telemetry:
    metrics:
      address: off
`);
    const { errors } = await loadConfig([a, b], registry(), { env: {} });
    assert.deepEqual(errors.map(formatError), [`${b}:3 processors.test_tag.timeout: must be a duration like "5s", "300ms" or "1m30s", not "never"`]);
    const c = file(`processors:
  test_tag:
    label: from-c
`);
    const { config } = await loadConfig([a, c], registry(), { env: {} });
    assert.equal((config!.components.get('processor:test_tag')!.config as { label: string }).label, 'from-c');
  });

  it('reports YAML syntax errors with a line', async () => {
    const p = file('receivers:\n  a: [1, 2\nservice: {}\n');
    const { errors } = await loadConfig([p], registry(), { env: {} });
    assert.ok(errors.length >= 1);
    assert.match(formatError(errors[0]!), new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+ YAML: `));
  });

  it('rejects unknown top-level and service keys, and pipelines without exporters', async () => {
    const p = file(`receiver:
  test_source:
service:
  pipelinez: {}
  pipelines:
    main:
      receivers: [test_source]
`);
    const lines = (await loadConfig([p], registry(), { env: {} })).errors.map(formatError);
    assert.ok(lines.includes(`${p}:1 receiver: unknown key (did you mean "receivers"?)`), lines.join('\n'));
    assert.ok(lines.includes(`${p}:4 service.pipelinez: unknown key (did you mean "pipelines"?)`), lines.join('\n'));
    assert.ok(lines.includes(`${p}:6 service.pipelines.main.exporters: is required`), lines.join('\n'));
  });

  it('rejects the same processor twice in a pipeline', async () => {
    const p = file(GOOD.replace('processors: [test_tag]', 'processors: [test_tag, test_tag]'));
    const lines = (await loadConfig([p], registry(), { env: {} })).errors.map(formatError);
    assert.deepEqual(lines, [`${p}:12 service.pipelines.main.processors[1]: processor "test_tag" is listed twice in this pipeline`]);
  });

  it('expands env values into typed settings', async () => {
    const p = file(GOOD.replace('label: hello', 'label: ${env:LBL:-dflt}\n    timeout: ${env:T}s'));
    const { config, errors } = await loadConfig([p], registry(), { env: { T: '7' } });
    assert.deepEqual(errors, []);
    assert.deepEqual(config!.components.get('processor:test_tag')!.config, { label: 'dflt', timeout: 7000 });
  });
});

describe('service.billing_checks', () => {
  it('defaults to [2000-01-01, now + 1 day], 7 days, 10^12 tokens, 256 characters; each can be set', async () => {
    const d = await loadConfig([file(GOOD)], registry(), { env: {} });
    assert.deepEqual(d.config!.service.billingChecks, {
      earliestMs: Date.UTC(2000, 0, 1),
      maxFutureMs: 86_400_000,
      maxDurationMs: 7 * 86_400_000,
      maxTokens: 1e12,
      maxIdLength: 256,
    });
    const set = await loadConfig(
      [
        file(
          `${GOOD}  billing_checks:\n    earliest_time: "1995-06-01"\n    max_future: 2h\n    max_duration: 48h\n    max_tokens: 5000000\n    max_id_length: 128\n`,
        ),
      ],
      registry(),
      { env: {} },
    );
    assert.deepEqual(set.errors.map(formatError), []);
    assert.deepEqual(set.config!.service.billingChecks, {
      earliestMs: Date.UTC(1995, 5, 1),
      maxFutureMs: 7_200_000,
      maxDurationMs: 48 * 3_600_000,
      maxTokens: 5e6,
      maxIdLength: 128,
    });
  });

  it('reports a bad date and unknown keys with their path', async () => {
    const r = await loadConfig([file(`${GOOD}  billing_checks:\n    earliest_time: "2000-13-45"\n    max_futur: 1h\n`)], registry(), { env: {} });
    const msgs = r.errors.map(formatError).join('\n');
    assert.match(msgs, /service\.billing_checks\.earliest_time: "2000-13-45" is not a date/);
    assert.match(msgs, /service\.billing_checks\.max_futur: unknown key \(did you mean "max_future"\?\)/);
  });
});

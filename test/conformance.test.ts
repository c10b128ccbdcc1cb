/**
 * Conformance: LiteLLM → Amberflo parity with Amberflo's own callback, on the real requests in
 * ../shared/conformance/litellm-amberflo/ (read at run time, never copied).
 *
 * For every request folder, through a real running pipeline (Service + graph):
 * - SLO path: `litellm_logs` receiver reading slo.json → `amberflo` (compat, hosted_env agent1,
 *   send_object_metadata true) == expected.from-slo.json, same list, same order, same bytes;
 * - span path: spans.<v>.otlp.json → OTLP receiver (HTTP) when `receivers/otlp` is available,
 *   else (or with SPANMETER_CONFORMANCE_IN_PROCESS=1) an in-process span source
 *   → `litellm` → `amberflo` == expected.from-spans.<v>.json;
 * - clean mode: the same, == the expectation with clean mode's rule 1 (docs/mapping.md) applied to every dimension;
 * - all SLOs in one generic_api-style POST to `litellm_logs` over HTTP, and all of them as one gzip
 *   NDJSON file through `spanmeter backfill` (runBackfill): == the concatenated expectations.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { defineFactory, type Factory } from '../src/component.js';
import { formatError, loadConfig } from '../src/config/config.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import type { SpanBatch } from '../src/data/span.js';
import { fromOtlpJson } from '../src/otlp/json.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { runBackfill } from '../src/backfill.js';
import { backfillSource } from '../integrations/index.js';
import amberflo from '../processors/amberflo/index.js';
import litellm from '../processors/litellm/index.js';
import litellmLogs from '../receivers/litellm_logs/index.js';
import type { LitellmLogsReceiver } from '../receivers/litellm_logs/litellm_logs.js';
import { registerTestComponents, type Capture, type TestSource } from './helpers/components.js';
import { cleaned } from './helpers/clean-oracle.js';
import { conformanceDir, conformanceSkip } from './helpers/paths.js';

const CONF = conformanceDir();
const VERSIONS = ['v1.79', 'v1.81'] as const;
const tmp = mkdtempSync(join(tmpdir(), 'spanmeter-conformance-'));

// Typed as plain strings so the compiler does not need the modules: the tests skip without them.
const OTLP_RECEIVER: string = '../receivers/otlp/index.js';
const OTLP_ENCODER: string = '../src/otlp/index.js';

/** The OTLP receiver, when another change has provided it and it loads. */
async function otlpFactory(): Promise<Factory | undefined> {
  try {
    const mod = (await import(OTLP_RECEIVER)) as { default?: Factory };
    return mod.default?.kind === 'receiver' ? mod.default : undefined;
  } catch {
    return undefined;
  }
}
/** The protobuf encoder, when available: LiteLLM's exporter sends protobuf even when told http/json. */
async function protoEncoder(): Promise<((b: SpanBatch) => Uint8Array) | undefined> {
  try {
    const mod = (await import(OTLP_ENCODER)) as { encodeOtlpProto?: (b: SpanBatch) => Uint8Array };
    return mod.encodeOtlpProto;
  } catch {
    return undefined;
  }
}
const encodeProto = await protoEncoder();

/** SPANMETER_CONFORMANCE_IN_PROCESS=1 forces the in-process span source (to tell receiver bugs from mapping bugs). */
const OTLP = process.env.SPANMETER_CONFORMANCE_IN_PROCESS === '1' ? undefined : await otlpFactory();

/** Records received by `conformance_capture` (used where the pipeline is built out of reach, e.g. by backfill). */
const captured: MeterRecord[] = [];

function registry(): ComponentRegistry {
  const r = new ComponentRegistry();
  registerTestComponents(r);
  r.register(
    defineFactory({
      kind: 'exporter',
      type: 'conformance_capture',
      description: 'Conformance test exporter: appends every record to a list.',
      stability: 'development',
      consumes: 'meter_events',
      configSchema: { type: 'object', additionalProperties: false, properties: {} },
      defaultConfig: () => ({}),
      create: () => ({ consume: async (rs: MeterRecord[]) => void captured.push(...rs) }),
    }),
    'test',
  );
  r.register(litellm);
  r.register(amberflo);
  r.register(litellmLogs);
  if (OTLP) r.register(OTLP, 'receivers/otlp');
  return r;
}

interface Run {
  records: MeterRecord[];
  transport: string;
}

async function runPipeline(
  receiverYaml: string,
  receiverId: string,
  processors: string[],
  mode: string,
  feed: (svc: Service) => Promise<string>,
): Promise<Run> {
  const file = join(tmp, `p-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `receivers:
${receiverYaml}
processors:
  litellm: {}
  amberflo:
    mode: ${mode}
    hosted_env: agent1
    send_object_metadata: true
exporters:
  test_capture:
service:
  data_dir: ${file.replace(/\.yaml$/, '.data')}
  pipelines:
    conformance:
      receivers: [${receiverId}]
      processors: [${processors.join(', ')}]
      exporters: [test_capture]
`,
  );
  const { config, errors } = await loadConfig([file], registry(), { env: {} });
  assert.deepEqual(errors.map(formatError), []);
  const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
  await svc.start();
  let transport: string;
  try {
    transport = await feed(svc);
  } finally {
    await svc.shutdown(10_000);
  }
  const capture = svc.graph.nodes.find((n) => n.id === 'test_capture')!.instance as Capture;
  return { records: (capture.received as MeterRecord[][]).flat(), transport };
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type of the component it configured
function instance<T>(svc: Service, id: string): T {
  return svc.graph.nodes.find((n) => n.id === id)!.instance as T;
}

function post(address: string, path: string, body: string | Uint8Array, contentType: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(address.slice(address.lastIndexOf(':') + 1))];
    const req = request({ host, port, path, method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function fromSlo(folder: string, mode: string): Promise<Run> {
  return runPipeline(`  litellm_logs:\n    paths: [${JSON.stringify(join(CONF!, folder, 'slo.json'))}]`, 'litellm_logs', ['amberflo'], mode, async (svc) => {
    const summary = await instance<LitellmLogsReceiver>(svc, 'litellm_logs').finished();
    assert.equal(summary.callsRead, 1);
    assert.deepEqual(summary.skipped, []);
    return 'file';
  });
}

function fromSpans(folder: string, version: string, mode: string): Promise<Run> {
  const text = readFileSync(join(CONF!, folder, `spans.${version}.otlp.json`), 'utf8');
  if (OTLP) {
    return runPipeline(
      `  otlp:\n    protocols:\n      http:\n        endpoint: "127.0.0.1:0"\n      grpc: null`,
      'otlp',
      ['litellm', 'amberflo'],
      mode,
      async (svc) => {
        const bound = instance<{ boundAddresses(): { http?: string } | string[] }>(svc, 'otlp').boundAddresses();
        const address = Array.isArray(bound) ? bound[0] : bound.http;
        assert.ok(address, 'the OTLP receiver reports its HTTP address');
        if (mode === 'compat' && encodeProto) {
          assert.equal(await post(address, '/v1/traces', encodeProto(fromOtlpJson(JSON.parse(text))), 'application/x-protobuf'), 200);
          return 'otlp-http protobuf';
        }
        assert.equal(await post(address, '/v1/traces', text, 'application/json'), 200);
        return 'otlp-http json';
      },
    );
  }
  return runPipeline('  test_span_source: {}', 'test_span_source', ['litellm', 'amberflo'], mode, async (svc) => {
    await instance<TestSource>(svc, 'test_span_source').emit(fromOtlpJson(JSON.parse(text)));
    return 'in-process';
  });
}

const expected = (folder: string, name: string): MeterRecord[] => JSON.parse(readFileSync(join(CONF!, folder, name), 'utf8')) as MeterRecord[];

/** Exact equality, including key order (the files are the byte-level contract). */
function assertExact(got: MeterRecord[], want: MeterRecord[]): void {
  assert.deepStrictEqual(got, want);
  assert.equal(JSON.stringify(got), JSON.stringify(want), 'same values but different key order');
}

if (!CONF) {
  describe('conformance (LiteLLM → Amberflo)', () => {
    it('every request of the conformance set, span and log paths, compat and clean', { skip: conformanceSkip('LiteLLM → Amberflo conformance') }, () => {});
  });
} else {
  const folders = readdirSync(CONF, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  describe(`conformance (LiteLLM → Amberflo), ${folders.length} requests, span path via ${OTLP ? `the OTLP receiver over HTTP (${encodeProto ? 'compat: protobuf, clean: JSON' : 'JSON'})` : 'an in-process span source (receivers/otlp not used)'}`, () => {
    it('has request folders', () => assert.ok(folders.length >= 10, `only ${folders.length} folders`));

    it('SLO path over HTTP (generic_api json_array, all requests in one POST), compat == every expected.from-slo.json in order', async () => {
      const body = `[${folders.map((f) => readFileSync(join(CONF, f, 'slo.json'), 'utf8')).join(',')}]`;
      const run = await runPipeline(
        `  litellm_logs:\n    http:\n      endpoint: "127.0.0.1:0"\n      path: /litellm`,
        'litellm_logs',
        ['amberflo'],
        'compat',
        async (svc) => {
          const address = instance<LitellmLogsReceiver>(svc, 'litellm_logs').boundAddresses().http!;
          assert.equal(await post(address, '/litellm', body, 'application/json'), 200);
          return 'http';
        },
      );
      assertExact(
        run.records,
        folders.flatMap((f) => expected(f, 'expected.from-slo.json')),
      );
    });

    it('backfill path (gzip NDJSON of all requests through `spanmeter backfill`), compat == every expected.from-slo.json in order', async () => {
      const ndjson = join(tmp, 'all-slo.ndjson.gz');
      writeFileSync(ndjson, gzipSync(folders.map((f) => JSON.stringify(JSON.parse(readFileSync(join(CONF, f, 'slo.json'), 'utf8')))).join('\n')));
      const cfg = join(tmp, 'backfill.yaml');
      writeFileSync(
        cfg,
        `receivers:\n  test_span_source:\nprocessors:\n  litellm: {}\n  amberflo:\n    mode: compat\n    hosted_env: agent1\n    send_object_metadata: true\nexporters:\n  conformance_capture:\nservice:\n  data_dir: ${join(tmp, 'data-bf')}\n  pipelines:\n    metering:\n      receivers: [test_span_source]\n      processors: [litellm, amberflo]\n      exporters: [conformance_capture]\n`,
      );
      captured.length = 0;
      const r = await runBackfill({
        source: backfillSource,
        files: [cfg],
        paths: [ndjson],
        registry: registry(),
        env: {},
        stderr: { write: () => true } as unknown as NodeJS.WritableStream,
        logger: pino({ level: 'silent' }),
      });
      assert.equal(r.files.callsRead, folders.length);
      assertExact(
        captured,
        folders.flatMap((f) => expected(f, 'expected.from-slo.json')),
      );
    });
    for (const folder of folders) {
      describe(folder, () => {
        it('SLO path, compat: == expected.from-slo.json', async () => {
          assertExact((await fromSlo(folder, 'compat')).records, expected(folder, 'expected.from-slo.json'));
        });
        it('SLO path, clean: == expected.from-slo.json with rule 1', async () => {
          assertExact((await fromSlo(folder, 'clean')).records, cleaned(expected(folder, 'expected.from-slo.json')));
        });
        for (const v of VERSIONS) {
          it(`span path ${v}, compat: == expected.from-spans.${v}.json`, async (t) => {
            const run = await fromSpans(folder, v, 'compat');
            t.diagnostic(`transport: ${run.transport}`);
            assertExact(run.records, expected(folder, `expected.from-spans.${v}.json`));
          });
          it(`span path ${v}, clean: == expected.from-spans.${v}.json with rule 1`, async () => {
            assertExact((await fromSpans(folder, v, 'clean')).records, cleaned(expected(folder, `expected.from-spans.${v}.json`)));
          });
        }
      });
    }
  });
}

/**
 * Conversion hot path: LiteLLM spans → `litellm` → `amberflo` → meter records, on the 20 real
 * conformance span files (10 requests × v1.79/v1.81; 50 spans, 20 LLM calls) and on the 10 SLOs.
 * Measures llm_calls/s and records/s of the processors (OTLP decoding excluded: see bench/decode.ts).
 * Each case runs batches of 100 calls (5 copies of the 20 requests with unique span ids) through
 * the real processor instances into a no-op exporter stage.
 *
 *   npx tsc -p tsconfig.json --outDir .tmp/me && node .tmp/me/bench/convert.js [seconds-per-case]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { standaloneSettings } from '../src/standalone.js';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { CreateSettings } from '../src/component.js';
import type { LlmCall } from '../src/data/llm-call.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import type { SpanBatch } from '../src/data/span.js';
import { sloToLlmCall } from '../integrations/litellm/slo.js';
import { fromOtlpJson } from '../src/otlp/json.js';
import { ServiceMetrics } from '../src/telemetry/metrics.js';
import amberfloFactory from '../processors/amberflo/index.js';
import type { AmberfloConfig } from '../processors/amberflo/config.js';
import litellmFactory from '../processors/litellm/index.js';
import type { LitellmConfig } from '../processors/litellm/config.js';
import { configOf } from '../src/config/component-config.js';
import { conformanceDir } from '../test/helpers/paths.js';

const seconds = Number(process.argv[2] ?? 3);
const dir = conformanceDir();
if (!dir) {
  process.stderr.write('bench/convert: ../shared/conformance/litellm-amberflo is absent; nothing to measure\n');
  process.exit(1);
}
const folders = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const spanFiles = folders.flatMap((f) => ['v1.79', 'v1.81'].map((v) => JSON.parse(readFileSync(join(dir, f, `spans.${v}.otlp.json`), 'utf8')) as unknown));
const slos = folders.map((f) => JSON.parse(readFileSync(join(dir, f, 'slo.json'), 'utf8')) as unknown);

/** `copies` × all span files as one batch per round, with span ids unique per round (so de-duplication passes them). */
let round = 0;
function spanBatch(copies: number): SpanBatch {
  const resourceSpans = [];
  for (let c = 0; c < copies; c++) {
    for (const doc of spanFiles) {
      const b = fromOtlpJson(doc);
      const tag = (round++ & 0xffffffff).toString(16).padStart(8, '0');
      for (const rs of b.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) (s as { spanId: string }).spanId = tag + s.spanId.slice(8);
      resourceSpans.push(...b.resourceSpans);
    }
  }
  return { resourceSpans };
}

function settings<C>(id: string, config: C, metrics: ServiceMetrics): CreateSettings<C> {
  return standaloneSettings(id, config, { pipeline: 'bench', metrics });
}

interface Result {
  name: string;
  calls: number;
  records: number;
  bytes: number;
  secs: number;
}

async function run(name: string, mode: 'compat' | 'clean', source: 'spans' | 'slo', dedup: boolean): Promise<Result> {
  const metrics = new ServiceMetrics('bench', { processMetrics: false });
  let records = 0;
  let calls = 0;
  const sink = {
    consume: (rs: MeterRecord[]) => {
      records += rs.length;
      return Promise.resolve();
    },
  };
  const amberflo = amberfloFactory.create(settings<AmberfloConfig>('amberflo', { mode, hosted_env: 'prod', send_object_metadata: true }, metrics), sink);
  const counting = {
    consume: async (cs: LlmCall[]) => {
      calls += cs.length;
      await amberflo.consume(cs);
    },
  };
  const litellm = litellmFactory.create(
    settings<LitellmConfig>('litellm', configOf(litellmFactory, { dedup: { max_entries: dedup ? 100_000 : 0 } }), metrics),
    counting,
  );
  // Pre-build inputs outside the timed loop.
  const batches: SpanBatch[] = source === 'spans' ? Array.from({ length: 20 }, () => spanBatch(5)) : [];
  const sloBatch = Array.from({ length: 10 }, () => slos).flat();
  const step = async (i: number) => {
    if (source === 'spans') {
      // New span ids each round (cheap, in place) so de-duplication lets every call through.
      const b = batches[i % batches.length]!; // 20 batches when the source is spans
      const tag = (round++ & 0xffffffff).toString(16).padStart(8, '0');
      for (const rs of b.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) (s as { spanId: string }).spanId = tag + s.spanId.slice(8);
      await litellm.consume(b);
    } else await counting.consume(sloBatch.map(sloToLlmCall));
  };
  // Warm-up, then measure.
  for (let i = 0; i < 200; i++) await step(i);
  calls = records = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let i = 0;
  while (process.hrtime.bigint() < end) await step(i++);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, calls, records, bytes: 0, secs };
}

const results: Result[] = [];
results.push(await run('spans → litellm → amberflo (clean, dedup on)', 'clean', 'spans', true));
results.push(await run('spans → litellm → amberflo (compat, dedup on)', 'compat', 'spans', true));
results.push(await run('spans → litellm → amberflo (clean, dedup off)', 'clean', 'spans', false));
results.push(await run('SLO → normalise → amberflo (clean)', 'clean', 'slo', false));
process.stdout.write(
  `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; ${seconds}s per case\n`,
);
for (const r of results) {
  process.stdout.write(
    `${r.name.padEnd(48)} ${Math.round(r.calls / r.secs)
      .toLocaleString('en-US')
      .padStart(10)} llm_calls/s ${Math.round(r.records / r.secs)
      .toLocaleString('en-US')
      .padStart(11)} records/s\n`,
  );
}

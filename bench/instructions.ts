/**
 * CPU instructions per LLM call, stage by stage: a figure that does not move with the load on a
 * shared machine. Wall-clock figures on these hosts drift by 30 % within hours; the path's
 * instruction count repeats within 0.1 % and most stages' within 0.6 % (the small amberflo stage
 * spreads by up to 7 %: repeat it), so a change of a few percent in a stage is visible.
 *
 *   node dist/bench/instructions.js [--requests N] [--json FILE] [--compare FILE] [--stages a,b] [--layout v1.79|v2]
 *   node dist/bench/instructions.js --cpu [--requests N] [--repeats R] [--json FILE] [--stages a,b]
 *
 * `--cpu` measures the same stages on the same inputs natively instead: CPU microseconds per LLM
 * call of each stage (after a warm-up of as many requests), the median of R children, and the
 * path's sum against the 20 µs per call that 50,000 calls/s per worker allows. Those figures move
 * with the host; they say how much of the per-call budget the stages alone spend.
 *
 * Method. Each stage runs alone in a child `node --predictable` (V8's deterministic mode: no
 * concurrent compiler or GC threads, fixed hash and random seeds, so the work done repeats) under `valgrind --tool=cachegrind --cache-sim=no`, which
 * counts the instructions the process executes. The child prepares the stage's inputs from the
 * bench workload (20 requests of 170 LiteLLM calls, 510 spans each, as the load generator sends),
 * then runs the stage over N requests; a second child runs it over 2N. The difference divided by
 * N × 170 is the marginal cost per LLM call in steady state: start-up, input preparation and the
 * first N requests (interpreter, JIT warm-up) cancel out. GC work caused by the stage is included,
 * under the collector's own V8 settings (src/v8-tuning.ts, imported first here as in the CLI).
 *
 * Stages (the receiver's and the pipeline's work, without HTTP and disk):
 *   decode      OTLP protobuf → spans, only the attributes the litellm processor reads and only
 *               the spans it reads (what the receiver does when every pipeline is a metering one)
 *   decode-all  the same, every attribute and span (what a pipeline that forwards spans makes it do)
 *   litellm     spans → LLM calls (selection and conversion, no de-duplication)
 *   consume     decode and the litellm processor as it runs (de-duplication on) over requests made
 *               unique, with the copy that makes them so (not in the path: compare builds with it)
 *   amberflo    LLM calls → meter records (clean mode, with the processor's template cache)
 *   wal         LLM calls → write-ahead log record bytes (src/storage/llm-calls-codec.ts)
 *   wal-read    those bytes → LLM calls, as when a backlog is read back from disk (not in the
 *               path: at a rate the collector keeps up with, records are forwarded from memory)
 *   json        meter records → the JSON of an object (1,000 records per object)
 *   gzip        that JSON → gzip level 3 (the default compression_level)
 *   key         that JSON → the object key's suffix: its CRC-32 (zlib's crc32; the collector reads
 *               the same value from the gzip trailer instead of computing it again)
 *
 * Fidelity: under valgrind V8's optimised code executes several times the instructions its native
 * speed implies (a TurboFan Int32Array sum: 22 per element under valgrind, 0.8–1.0 ns natively on
 * the benchmark host), so read the counts as a repeatable relative signal, and confirm gains with
 * the end-to-end scenarios (docs/performance.md).
 *
 * Needs valgrind (Debian: `apt-get install valgrind`); without it the script says so and exits 2.
 * Prints a table; with --compare, the ratio to an earlier --json result (e.g. from another commit).
 */
// First, as in the CLI: the collector's V8 flags (see src/v8-tuning.ts), in the stage children too.
import '../src/v8-tuning.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LlmCall } from '../src/data/llm-call.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import type { SpanBatch } from '../src/data/span.js';
import { stableGzip } from '../src/output/encode.js';
import { contentSuffix, recordsJsonBytes } from '../integrations/amberflo/objects.js';
import { decodeOtlpProto } from '../src/otlp/index.js';
import { decodeRecord, encodeRecord } from '../src/storage/codec.js';
import { llmCallsCodec } from '../src/storage/llm-calls-codec.js';
import { MappingCache, toMeterRecords, type MappingOptions } from '../integrations/amberflo/mapping.js';
import { SPAN_ATTRIBUTES, SPAN_SELECTORS } from '../integrations/litellm/span.js';
import litellmFactory from '../processors/litellm/index.js';
import { LitellmProcessor } from '../processors/litellm/litellm.js';
import { configOf } from '../src/config/component-config.js';
import { pino } from 'pino';
import { ServiceMetrics } from '../src/telemetry/metrics.js';
import { Template } from './loadgen.js';

export const STAGES = ['decode', 'decode-all', 'litellm', 'consume', 'amberflo', 'wal', 'wal-read', 'json', 'gzip', 'key'] as const;
export type Stage = (typeof STAGES)[number];

const CALLS_PER_REQUEST = 170;
const INPUTS = 20;
const RECORDS_PER_OBJECT = 1000;
const MAPPING: MappingOptions = { mode: 'clean', hostedEnv: 'prod', sendObjectMetadata: false };
/**
 * The object stages run over this many times the records of `requests` requests: 40 requests fill
 * only 28 objects, too few for the JIT to have settled (a late recompilation then shows as cost).
 */
const OBJECT_ROUNDS = 5;
const rounds = (stage: Stage): number => (stage === 'json' || stage === 'gzip' || stage === 'key' ? OBJECT_ROUNDS : 1);

/**
 * Full collections between preparing the inputs and running the stage, so that the run starts from
 * the same compact heap whatever the preparation left (without them, a change to an earlier stage
 * moves the GC points of a later one by a few percent).
 */
function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

/**
 * Prepares a stage's inputs and returns its loop: `run(requests)` runs the stage over that many
 * requests (of {@link CALLS_PER_REQUEST} calls) and returns a checksum. The inputs are made once, so
 * the loop can be run twice (a warm-up, then the measured run: see {@link cpuChild}).
 */
function prepareStage(stage: Stage): (requests: number) => number {
  // The stage children inherit the layout through the environment (see --layout).
  const template = new Template(CALLS_PER_REQUEST, 1, process.env.BENCH_LAYOUT === 'v2' ? 'v2' : 'v1.79');
  const bodies = Array.from({ length: INPUTS }, (_, i) => template.instance(i).body);
  const projection = { spanAttributes: SPAN_ATTRIBUTES, spanSelector: SPAN_SELECTORS };
  const batches = (): SpanBatch[] => bodies.map((b) => decodeOtlpProto(b, projection));
  const calls = (): LlmCall[][] => batches().map((b) => LitellmProcessor.convert(b));
  switch (stage) {
    case 'decode':
    case 'decode-all': {
      const opts = stage === 'decode' ? projection : undefined;
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) sum += decodeOtlpProto(bodies[i % INPUTS]!, opts).resourceSpans.length;
        return sum;
      };
    }
    case 'litellm': {
      const input = batches();
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) sum += LitellmProcessor.convert(input[i % INPUTS]!).length;
        return sum;
      };
    }
    case 'consume': {
      // The litellm processor as the collector runs it (de-duplication on, ids remembered), over
      // requests made unique as the load generator makes them (decode and copy included).
      const metrics = new ServiceMetrics('bench', { processMetrics: false });
      const proc = litellmFactory.create(
        {
          id: 'litellm',
          pipeline: 'bench',
          config: configOf(litellmFactory),
          logger: pino({ level: 'silent' }),
          registry: metrics.registry,
          metrics: metrics.forComponent('processor', 'litellm', 'bench'),
          dataDir: '/nonexistent',
          instanceId: 'bench',
        },
        { consume: async () => {} },
      );
      let run = INPUTS;
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) {
          void proc.consume(decodeOtlpProto(template.instance(run++).body, projection));
          sum++;
        }
        return sum;
      };
    }
    case 'amberflo': {
      const input = calls();
      const cache = new MappingCache();
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) for (const c of input[i % INPUTS]!) sum += toMeterRecords(c, MAPPING, cache).length;
        return sum;
      };
    }
    case 'wal': {
      const input = calls();
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) sum += encodeRecord(input[i % INPUTS]!, llmCallsCodec).length;
        return sum;
      };
    }
    case 'wal-read': {
      const input = calls().map((c) => encodeRecord(c, llmCallsCodec));
      return (requests) => {
        let sum = 0;
        for (let i = 0; i < requests; i++) sum += (decodeRecord(input[i % INPUTS]!) as LlmCall[]).length;
        return sum;
      };
    }
    case 'json':
    case 'gzip':
    case 'key': {
      // The records of the requests, cut into objects of 1,000 as the batch processor does; the JSON
      // is made outside the counted loop for the gzip and key stages.
      const cache = new MappingCache();
      const perRequest = calls().map((cs) => cs.flatMap((c) => toMeterRecords(c, MAPPING, cache)));
      const objects: MeterRecord[][] = [];
      let pending: MeterRecord[] = [];
      for (let i = 0; objects.length < INPUTS; i++) {
        for (const r of perRequest[i % INPUTS]!) pending.push(r);
        if (pending.length >= RECORDS_PER_OBJECT) {
          objects.push(pending.slice(0, RECORDS_PER_OBJECT));
          pending = pending.slice(RECORDS_PER_OBJECT);
        }
      }
      const jsons = stage === 'json' ? [] : objects.map((o) => recordsJsonBytes(o));
      return (requests) => {
        // As many objects as the requests' records fill (OBJECT_ROUNDS times over).
        const n = Math.floor((rounds(stage) * requests * perRequest[0]!.length) / RECORDS_PER_OBJECT);
        let sum = 0;
        for (let i = 0; i < n; i++) {
          if (stage === 'json') sum += recordsJsonBytes(objects[i % INPUTS]!).length;
          else if (stage === 'gzip') sum += stableGzip(jsons[i % INPUTS]!).length;
          else sum += contentSuffix(jsons[i % INPUTS]!).length;
        }
        return sum;
      };
    }
  }
}

/** The child: prepares a stage's inputs, runs it over `requests` requests, returns a checksum. */
function runStage(stage: Stage, requests: number): number {
  const run = prepareStage(stage);
  settle();
  return run(requests);
}

/**
 * The child of `--cpu`: the stage over `requests` requests as a warm-up (the JIT settles, the young
 * generation grows to its working size), then over `requests` more, timed with the process's CPU
 * time (all threads: the GC's helpers too). Returns the CPU microseconds of the timed run per LLM
 * call. No full collection between the two: `gc()` shrinks the young generation, and the timed run
 * then paid for more scavenges than a running collector does (litellm 7.8 against 4.1 µs per call).
 */
function cpuChild(stage: Stage, requests: number): { usPerCall: number; checksum: number } {
  const run = prepareStage(stage);
  settle();
  let checksum = run(requests);
  const t0 = process.cpuUsage();
  checksum += run(requests);
  const t = process.cpuUsage(t0);
  return { usPerCall: (t.user + t.system) / (rounds(stage) * requests * CALLS_PER_REQUEST), checksum };
}

/** Runs a child to its end: its exit code, stdout and stderr. */
function runChild(cmd: string, argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Instructions executed by `node --predictable --expose-gc <this file> --child <stage> <requests>`. */
async function count(stage: Stage, requests: number): Promise<number> {
  const argv = [
    '--tool=cachegrind',
    '--cache-sim=no',
    '--cachegrind-out-file=/dev/null',
    process.execPath,
    '--predictable',
    '--expose-gc',
    fileURLToPath(import.meta.url),
    '--child',
    stage,
    '--requests',
    String(requests),
  ];
  const { code, out, err } = await runChild('valgrind', argv);
  const m = /I\s+refs:\s+([\d,]+)/.exec(err);
  if (code !== 0 || !m || !/^checksum \d+/m.test(out))
    throw new Error(`valgrind ${stage} ×${requests} failed (exit ${code}):\n${err.slice(-2000)}${out.slice(-500)}`);
  return Number(m[1]!.replace(/,/g, ''));
}

/** Runs `jobs` at most `width` at a time (instruction counts do not depend on what runs beside them). */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

export interface InstructionResult {
  node: string;
  requests: number;
  callsPerRequest: number;
  /** Instructions per LLM call, by stage. */
  perCall: Partial<Record<Stage, number>>;
}

export async function measure(stages: readonly Stage[], requests: number): Promise<InstructionResult> {
  const jobs = stages.flatMap((s) => [() => count(s, requests), () => count(s, 2 * requests)]);
  const counts = await pool(jobs, Math.max(1, cpus().length));
  const perCall: Partial<Record<Stage, number>> = {};
  stages.forEach((s, i) => (perCall[s] = Math.round((counts[2 * i + 1]! - counts[2 * i]!) / (rounds(s) * requests * CALLS_PER_REQUEST))));
  return { node: process.version, requests, callsPerRequest: CALLS_PER_REQUEST, perCall };
}

/** The path an acknowledged call takes in the default pipeline (decode-all is an alternative to decode). */
const PATH: Stage[] = ['decode', 'litellm', 'amberflo', 'wal', 'json', 'gzip', 'key'];

export function table(r: InstructionResult, base?: InstructionResult): string[] {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const lines = [`| stage | instructions per LLM call${base ? ' | before | ratio' : ''} |`, `|---|---:|${base ? '---:|---:|' : ''}`];
  const row = (name: string, v: number | undefined, b: number | undefined) => {
    if (v === undefined) return;
    lines.push(`| ${name} | ${fmt(v)}${base ? ` | ${b === undefined ? '' : fmt(b)} | ${b ? (v / b).toFixed(3) : ''}` : ''} |`);
  };
  for (const s of STAGES) row(s, r.perCall[s], base?.perCall[s]);
  const total = (x: InstructionResult) => (PATH.every((s) => x.perCall[s] !== undefined) ? PATH.reduce((a, s) => a + x.perCall[s]!, 0) : undefined);
  row(`path (${PATH.join(' + ')})`, total(r), base && total(base));
  return lines;
}

/**
 * The throughput target, 50,000 LLM calls/s per worker, as CPU time per call: what the whole path (HTTP,
 * stages, log, batching, files, GC) may cost on one core.
 */
export const TARGET_US_PER_CALL = 1e6 / 50_000;

export interface CpuResult {
  node: string;
  requests: number;
  callsPerRequest: number;
  repeats: number;
  /** CPU microseconds per LLM call, by stage: the median of `repeats` children. */
  usPerCall: Partial<Record<Stage, number>>;
  /** Every child's figure, by stage. */
  samples: Partial<Record<Stage, number[]>>;
}

const hasTaskset = (): boolean => spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

/** CPU µs per call of one `node --expose-gc <this file> --child <stage> --requests N --cpu` (pinned to `core` if given). */
async function cpuOnce(stage: Stage, requests: number, core: number | undefined): Promise<number> {
  const argv = ['--expose-gc', fileURLToPath(import.meta.url), '--child', stage, '--requests', String(requests), '--cpu'];
  const { code, out, err } =
    core === undefined ? await runChild(process.execPath, argv) : await runChild('taskset', ['-c', String(core), process.execPath, ...argv]);
  const m = /^cpu-us-per-call ([\d.]+) checksum \d+$/m.exec(out);
  if (code !== 0 || !m) throw new Error(`${stage} --cpu ×${requests} failed (exit ${code}):\n${err.slice(-2000)}${out.slice(-500)}`);
  return Number(m[1]);
}

/**
 * Natively, the CPU time per LLM call of each stage, on the same inputs as the instruction counts:
 * each stage in its own child, one after another (pinned to core 0 where `taskset` exists, so that
 * no two children share a core), `repeats` rounds over the stages, the median per stage. Unlike the
 * instruction counts, these move with the host's load; they are the budget the path spends, to be
 * set against {@link TARGET_US_PER_CALL}.
 */
export async function measureCpu(stages: readonly Stage[], requests: number, repeats: number): Promise<CpuResult> {
  const core = hasTaskset() ? 0 : undefined;
  const samples: Partial<Record<Stage, number[]>> = {};
  for (let k = 0; k < repeats; k++) for (const s of stages) (samples[s] ??= []).push(await cpuOnce(s, requests, core));
  const usPerCall: Partial<Record<Stage, number>> = {};
  for (const s of stages) usPerCall[s] = median(samples[s]!);
  return { node: process.version, requests, callsPerRequest: CALLS_PER_REQUEST, repeats, usPerCall, samples };
}

function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** The path's stages' CPU µs per call, their sum, and the sum's share of {@link TARGET_US_PER_CALL}. */
export function cpuTable(r: CpuResult): string[] {
  const fmt = (v: number) => v.toFixed(2);
  const lines = ['| stage | CPU µs per LLM call (median) | runs |', '|---|---:|---|'];
  for (const s of STAGES) {
    const v = r.usPerCall[s];
    if (v !== undefined) lines.push(`| ${s}${PATH.includes(s) ? '' : ' (not in the path)'} | ${fmt(v)} | ${r.samples[s]!.map(fmt).join(', ')} |`);
  }
  if (PATH.every((s) => r.usPerCall[s] !== undefined)) {
    const sum = PATH.reduce((a, s) => a + r.usPerCall[s]!, 0);
    lines.push(
      `| path (${PATH.join(' + ')}) | ${fmt(sum)} | ${((100 * sum) / TARGET_US_PER_CALL).toFixed(0)} % of the ${fmt(TARGET_US_PER_CALL)} µs a call may cost at 50,000 calls/s per worker |`,
    );
  }
  return lines;
}

/** The sum of the path's stages, or undefined when one was not measured. */
export function cpuPathSum(r: CpuResult): number | undefined {
  return PATH.every((s) => r.usPerCall[s] !== undefined) ? PATH.reduce((a, s) => a + r.usPerCall[s]!, 0) : undefined;
}

export function valgrindMissing(): boolean {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      requests: { type: 'string' },
      json: { type: 'string' },
      compare: { type: 'string' },
      stages: { type: 'string' },
      cpu: { type: 'boolean', default: false },
      repeats: { type: 'string', default: '3' },
      layout: { type: 'string' },
    },
  });
  if (values.layout !== undefined) {
    if (values.layout !== 'v1.79' && values.layout !== 'v2') throw new Error(`--layout must be v1.79 or v2, not ${values.layout}`);
    process.env.BENCH_LAYOUT = values.layout;
  }
  // --cpu: 200 requests (34,000 calls) per stage by default, so that a run is long enough for the timer.
  const requests = Number(values.requests ?? (values.cpu && values.child === undefined ? 200 : 40));
  if (!Number.isInteger(requests) || requests < 1) throw new Error(`--requests must be a positive integer, not ${values.requests}`);
  if (values.child !== undefined) {
    if (!(STAGES as readonly string[]).includes(values.child)) throw new Error(`unknown stage ${values.child}; stages: ${STAGES.join(', ')}`);
    if (values.cpu) {
      const r = cpuChild(values.child as Stage, requests);
      process.stdout.write(`cpu-us-per-call ${r.usPerCall} checksum ${r.checksum}\n`);
    } else process.stdout.write(`checksum ${runStage(values.child as Stage, requests)}\n`);
    return;
  }
  const stages = values.stages ? values.stages.split(',') : [...STAGES];
  const unknown = stages.filter((s) => !(STAGES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`unknown stage(s) ${unknown.join(', ')}; stages: ${STAGES.join(', ')}`);
  if (values.cpu) {
    const repeats = Number(values.repeats);
    if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, not ${values.repeats}`);
    const r = await measureCpu(stages as Stage[], requests, repeats);
    if (values.json) writeFileSync(values.json, JSON.stringify(r, null, 2));
    process.stdout.write(
      `node ${r.node}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${r.requests} requests of ${r.callsPerRequest} calls per stage after as many as a warm-up, median of ${r.repeats}\n`,
    );
    process.stdout.write(cpuTable(r).join('\n') + '\n');
    return;
  }
  if (valgrindMissing()) {
    process.stderr.write('bench/instructions: valgrind is not installed (Debian: apt-get install valgrind); nothing measured\n');
    process.exit(2);
  }
  const base = values.compare ? (JSON.parse(readFileSync(values.compare, 'utf8')) as InstructionResult) : undefined;
  const r = await measure(stages as Stage[], requests);
  if (values.json) writeFileSync(values.json, JSON.stringify(r, null, 2));
  process.stdout.write(`node ${r.node}, ${r.requests} vs ${2 * r.requests} requests of ${r.callsPerRequest} calls per stage, valgrind cachegrind\n`);
  process.stdout.write(table(r, base).join('\n') + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

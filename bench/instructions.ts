/**
 * CPU instructions per LLM call, stage by stage: a figure that does not move with the load on a
 * shared machine. Wall-clock figures on these hosts drift by 30 % within hours; the path's
 * instruction count repeats within 0.1 % and most stages' within 0.6 % (the small amberflo stage
 * spreads by up to 7 %: repeat it), so a change of a few percent in a stage is visible.
 *
 *   node dist/bench/instructions.js [--requests N] [--json FILE] [--compare FILE] [--stages a,b]
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
 *   amberflo    LLM calls → meter records (clean mode, with the processor's template cache)
 *   wal         LLM calls → write-ahead log record bytes (src/storage/llm-calls-codec.ts)
 *   wal-read    those bytes → LLM calls, as when a backlog is read back from disk (not in the
 *               path: at a rate the collector keeps up with, records are forwarded from memory)
 *   json        meter records → the JSON of an object (1,000 records per object)
 *   gzip        that JSON → gzip level 3 (the default compression_level)
 *   key         that JSON → the object key's suffix: its CRC-32 (zlib's crc32; the collector reads
 *               the same value from the gzip trailer instead of computing it again). Until the
 *               seventh session it was the SHA-256 of the JSON, which valgrind counted several
 *               times over (it does not emulate SHA-NI)
 *
 * Fidelity: under valgrind V8's optimised code executes several times the instructions its native
 * speed implies (a TurboFan Int32Array sum: 22 per element under valgrind, 0.8–1.0 ns natively on
 * the benchmark host), so read the counts as a repeatable relative signal, and confirm gains with
 * the end-to-end scenarios (bench/README.md).
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
import { contentSuffix, recordsJsonBytes, stableGzip } from '../src/output/encode.js';
import { decodeOtlpProto } from '../src/otlp/index.js';
import { decodeRecord, encodeRecord } from '../src/storage/codec.js';
import { MappingCache, toMeterRecords, type MappingOptions } from '../processors/amberflo/mapping.js';
import { LLM_CALL_ATTRIBUTE, SPAN_ATTRIBUTES } from '../processors/litellm/convert.js';
import { LitellmProcessor } from '../processors/litellm/index.js';
import { Template } from './loadgen.js';

export const STAGES = ['decode', 'decode-all', 'litellm', 'amberflo', 'wal', 'wal-read', 'json', 'gzip', 'key'] as const;
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

/** The child: prepares a stage's inputs, runs it over `requests` requests, prints a checksum. */
function runStage(stage: Stage, requests: number): number {
  const template = new Template(CALLS_PER_REQUEST);
  const bodies = Array.from({ length: INPUTS }, (_, i) => template.instance(i).body);
  const projection = { spanAttributes: SPAN_ATTRIBUTES, spanSelector: LLM_CALL_ATTRIBUTE };
  const batches = (): SpanBatch[] => bodies.map((b) => decodeOtlpProto(b, projection));
  const calls = (): LlmCall[][] => batches().map((b) => LitellmProcessor.convert(b));
  let sum = 0;
  switch (stage) {
    case 'decode':
    case 'decode-all': {
      const opts = stage === 'decode' ? projection : undefined;
      settle();
      for (let i = 0; i < requests; i++) sum += decodeOtlpProto(bodies[i % INPUTS]!, opts).resourceSpans.length;
      break;
    }
    case 'litellm': {
      const input = batches();
      settle();
      for (let i = 0; i < requests; i++) sum += LitellmProcessor.convert(input[i % INPUTS]!).length;
      break;
    }
    case 'amberflo': {
      const input = calls();
      const cache = new MappingCache();
      settle();
      for (let i = 0; i < requests; i++) for (const c of input[i % INPUTS]!) sum += toMeterRecords(c, MAPPING, cache).length;
      break;
    }
    case 'wal': {
      const input = calls();
      settle();
      for (let i = 0; i < requests; i++) sum += encodeRecord(input[i % INPUTS]!).length;
      break;
    }
    case 'wal-read': {
      const input = calls().map((c) => encodeRecord(c));
      settle();
      for (let i = 0; i < requests; i++) sum += (decodeRecord(input[i % INPUTS]!) as LlmCall[]).length;
      break;
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
      // As many objects as the requests' records fill (OBJECT_ROUNDS times over).
      const n = Math.floor((rounds(stage) * requests * perRequest[0]!.length) / RECORDS_PER_OBJECT);
      settle();
      for (let i = 0; i < n; i++) {
        if (stage === 'json') sum += recordsJsonBytes(objects[i % INPUTS]!).length;
        else if (stage === 'gzip') sum += stableGzip(jsons[i % INPUTS]!).length;
        else sum += contentSuffix(jsons[i % INPUTS]!).length;
      }
      break;
    }
  }
  return sum;
}

/** Instructions executed by `node --predictable --expose-gc <this file> --child <stage> <requests>`. */
function count(stage: Stage, requests: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const argv = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', process.execPath, '--predictable', '--expose-gc', fileURLToPath(import.meta.url), '--child', stage, '--requests', String(requests)];
    const p = spawn('valgrind', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || !m || !/^checksum \d+/m.test(out)) reject(new Error(`valgrind ${stage} ×${requests} failed (exit ${code}):\n${err.slice(-2000)}${out.slice(-500)}`));
      else resolve(Number(m[1]!.replace(/,/g, '')));
    });
  });
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

export function valgrindMissing(): boolean {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      requests: { type: 'string', default: '40' },
      json: { type: 'string' },
      compare: { type: 'string' },
      stages: { type: 'string' },
    },
  });
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 1) throw new Error(`--requests must be a positive integer, not ${values.requests}`);
  if (values.child !== undefined) {
    if (!(STAGES as readonly string[]).includes(values.child)) throw new Error(`unknown stage ${values.child}; stages: ${STAGES.join(', ')}`);
    process.stdout.write(`checksum ${runStage(values.child as Stage, requests)}\n`);
    return;
  }
  const stages = values.stages ? values.stages.split(',') : [...STAGES];
  const unknown = stages.filter((s) => !(STAGES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`unknown stage(s) ${unknown.join(', ')}; stages: ${STAGES.join(', ')}`);
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

/**
 * Load generator: sends pre-encoded LiteLLM-shaped OTLP/HTTP protobuf requests (~512 spans each)
 * over keep-alive connections, flat out or at a fixed rate, and measures acknowledged spans/s and
 * acknowledgement latency; with --pid it also samples the collector's CPU time and peak RSS from
 * /proc. Every request sent is unique: the template's marker bytes are patched per request, so the
 * collector's de-duplication never hides load and the output can be checked call by call.
 *
 *   node dist/bench/loadgen.js --url http://127.0.0.1:4318/v1/traces --duration 10 [--warmup 2] [--rate 10000]
 *     [--concurrency 8] [--calls-per-request 170] [--gzip] [--pid N] [--out result.json]
 */
import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { request as workloadRequest, SPANS_PER_CALL, type WorkloadLayout } from './lib/workload.js';

const RUN_MARKER = 'QQQQQQQQ'; // 8 chars inside every gen_ai.response.id of the template

export interface LoadResult {
  url: string;
  mode: string;
  /** Seconds measured (after the warm-up). */
  durationS: number;
  /** Warm-up seconds before the measurement (requests sent, not measured). */
  warmupS: number;
  /** Every acknowledged call, warm-up included (what the output must contain). */
  callsAckedTotal: number;
  requestsSent: number;
  requestsAcked: number;
  requestsRefused: number;
  requestsFailed: number;
  spansAcked: number;
  callsAcked: number;
  spansPerS: number;
  callsPerS: number;
  mbPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** The collector's process tree (primary and workers): CPU over the measured load, sum of peak RSS. */
  collector?: { cpuSeconds: number; cpuPercent: number; peakRssMb: number };
  /** This load generator's own CPU over the measured load, in % of a core. */
  generatorCpuPercent: number;
  /** Run ids used (each acked request's calls have response ids chatcmpl-<runId>-<n>). */
  ackedRunIds: string[];
  callsPerRequest: number;
}

/** A request template with the byte offsets to patch for uniqueness. */
export class Template {
  readonly body: Buffer;
  readonly markerOffsets: number[] = [];
  readonly calls: number;
  constructor(
    callsPerRequest: number,
    seed = 1,
    readonly layout: WorkloadLayout = 'v1.79',
  ) {
    const { body } = workloadRequest(0, callsPerRequest, RUN_MARKER, seed, undefined, layout);
    this.body = Buffer.from(encodeOtlpProto(fromOtlpJson(body)));
    this.calls = callsPerRequest;
    const marker = Buffer.from(RUN_MARKER);
    for (let at = this.body.indexOf(marker); at >= 0; at = this.body.indexOf(marker, at + 1)) this.markerOffsets.push(at);
  }

  /**
   * A unique copy: every response id gets `runId` (8 base-36 chars), and the first 4 bytes of every
   * trace id become the run number, so (traceId, spanId) pairs are unique too.
   */
  instance(run: number): { runId: string; body: Buffer } {
    const runId = run.toString(36).padStart(8, '0').slice(-8);
    const b = Buffer.from(this.body);
    for (const at of this.markerOffsets) b.write(runId, at, 'latin1');
    for (const at of this.traceIdOffsets) b.writeUInt32BE(run >>> 0, at);
    return { runId, body: b };
  }

  /** Offsets of trace ids: protobuf field 1 (bytes, length 16) of each Span message. */
  private get traceIdOffsets(): number[] {
    if (this._traceOffsets) return this._traceOffsets;
    const out: number[] = [];
    // Every trace id in the template starts with a known 4-byte prefix taken from its hex.
    const json = workloadRequest(0, this.calls, RUN_MARKER, 1, undefined, this.layout).body as {
      resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[];
    };
    const prefixes = new Set(json.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.traceId));
    for (const id of prefixes) {
      const bytes = Buffer.from(id, 'hex');
      for (let at = this.body.indexOf(bytes); at >= 0; at = this.body.indexOf(bytes, at + 1)) out.push(at);
    }
    this._traceOffsets = out.sort((a, b) => a - b);
    return this._traceOffsets;
  }
  private _traceOffsets?: number[];
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU seconds (utime + stime) and peak RSS of a process, from /proc. */
export function procStats(pid: number): { cpuSeconds: number; peakRssMb: number; rssMb: number } | undefined {
  try {
    const fields = statFields(pid);
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / 100, peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name (state, ppid, ...); throws when the process is gone. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * {@link procStats} summed over a process and all its descendants (the workers of `--workers N`
 * are children of the primary): CPU seconds of the tree, and the sum of each process's peak and
 * current RSS (the sum of peaks is an upper bound of the tree's peak).
 */
export function treeStats(pid: number): { cpuSeconds: number; peakRssMb: number; rssMb: number; processes: number } | undefined {
  const root = procStats(pid);
  if (!root) return undefined;
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(statFields(name)[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const total = { ...root, processes: 1 };
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop()!;
    const st = procStats(p);
    if (st) {
      total.cpuSeconds += st.cpuSeconds;
      total.peakRssMb += st.peakRssMb;
      total.rssMb += st.rssMb;
      total.processes++;
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

export interface LoadOptions {
  url: string;
  durationS: number;
  /** Seconds of load before measuring (JIT warm-up, connection set-up); 0 = none. */
  warmupS?: number;
  /** LLM calls per second; 0 = as fast as acknowledgements allow. */
  rate: number;
  concurrency: number;
  callsPerRequest: number;
  gzip: boolean;
  pid?: number;
  /** First run number (use different ones for repeated runs against one collector). */
  runBase: number;
  /** LiteLLM's span layout of the requests (v1.79 by default). */
  layout?: WorkloadLayout;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const template = new Template(o.callsPerRequest, 1, o.layout);
  const spansPerRequest = o.callsPerRequest * SPANS_PER_CALL;
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const u = new URL(o.url);
  const latencies: number[] = [];
  const ackedRunIds: string[] = [];
  let sent = 0;
  let acked = 0;
  let ackedTotal = 0;
  let refused = 0;
  let failed = 0;
  let bytes = 0;
  let run = o.runBase;
  // gzip is too slow to do per request at full speed in one process: pre-compress a pool.
  const gzPool = o.gzip ? Array.from({ length: 64 }, () => template.instance(run++)).map((x) => ({ runId: x.runId, body: gzipSync(x.body) })) : [];
  let gzNext = 0;
  const tStart = performance.now();
  const t0 = tStart + (o.warmupS ?? 0) * 1000; // measurement starts here
  const end = t0 + o.durationS * 1000;
  let cpu0 = o.pid && !o.warmupS ? treeStats(o.pid) : undefined;
  let own0 = process.cpuUsage();
  const cpuTimer = o.warmupS
    ? setTimeout(() => {
        if (o.pid) cpu0 = treeStats(o.pid);
        own0 = process.cpuUsage();
      }, o.warmupS * 1000)
    : undefined;
  const intervalMs = o.rate > 0 ? (o.callsPerRequest / o.rate) * 1000 : 0;
  let nextAt = tStart;

  const post = (body: Buffer, headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/x-protobuf', 'content-length': String(body.length), ...headers },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });

  const worker = async () => {
    while (performance.now() < end) {
      if (intervalMs > 0) {
        const at = nextAt;
        nextAt += intervalMs;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= end) break;
      }
      let runId: string;
      let body: Buffer;
      const headers: Record<string, string> = {};
      if (o.gzip) {
        if (gzNext >= gzPool.length) break; // pool exhausted: every request stays unique
        ({ runId, body } = gzPool[gzNext++]!);
        headers['content-encoding'] = 'gzip';
      } else ({ runId, body } = template.instance(run++));
      const start = performance.now();
      const measured = start >= t0;
      if (measured) sent++;
      const status = await post(body, headers);
      const ms = performance.now() - start;
      if (status === 200) {
        ackedTotal++;
        ackedRunIds.push(runId);
        if (measured) {
          acked++;
          bytes += body.length;
          latencies.push(ms);
        }
      } else if (status === 429 || status === 503) {
        refused++;
        await new Promise((r) => setTimeout(r, 50));
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  clearTimeout(cpuTimer);
  agent.destroy();
  const cpu1 = o.pid ? treeStats(o.pid) : undefined;
  const own = process.cpuUsage(own0);
  latencies.sort((a, b) => a - b);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    url: o.url,
    mode: o.rate > 0 ? `fixed ${o.rate} calls/s` : 'flat out',
    durationS: r2(elapsed),
    warmupS: o.warmupS ?? 0,
    callsAckedTotal: ackedTotal * o.callsPerRequest,
    requestsSent: sent,
    requestsAcked: acked,
    requestsRefused: refused,
    requestsFailed: failed,
    spansAcked: acked * spansPerRequest,
    callsAcked: acked * o.callsPerRequest,
    spansPerS: Math.round((acked * spansPerRequest) / elapsed),
    callsPerS: Math.round((acked * o.callsPerRequest) / elapsed),
    mbPerS: r2(bytes / elapsed / 1e6),
    latencyMs: {
      p50: r2(percentile(latencies, 50)),
      p90: r2(percentile(latencies, 90)),
      p99: r2(percentile(latencies, 99)),
      max: r2(latencies[latencies.length - 1] ?? 0),
    },
    collector:
      cpu0 && cpu1
        ? {
            cpuSeconds: r2(cpu1.cpuSeconds - cpu0.cpuSeconds),
            cpuPercent: r2(((cpu1.cpuSeconds - cpu0.cpuSeconds) / elapsed) * 100),
            peakRssMb: r2(cpu1.peakRssMb),
          }
        : undefined,
    generatorCpuPercent: r2(((own.user + own.system) / 1e6 / elapsed) * 100),
    ackedRunIds,
    callsPerRequest: o.callsPerRequest,
  };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isMain) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:4318/v1/traces' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '0' },
      rate: { type: 'string', default: '0' },
      concurrency: { type: 'string', default: '8' },
      'calls-per-request': { type: 'string', default: '170' },
      gzip: { type: 'boolean', default: false },
      pid: { type: 'string' },
      'run-base': { type: 'string', default: '1' },
      out: { type: 'string' },
      layout: { type: 'string', default: 'v1.79' },
    },
  });
  if (values.layout !== 'v1.79' && values.layout !== 'v2') throw new Error(`--layout must be v1.79 or v2, not ${values.layout}`);
  const result = await runLoad({
    url: values.url,
    durationS: Number(values.duration),
    warmupS: Number(values.warmup),
    rate: Number(values.rate),
    concurrency: Number(values.concurrency),
    callsPerRequest: Number(values['calls-per-request']),
    gzip: values.gzip,
    pid: values.pid ? Number(values.pid) : undefined,
    runBase: Number(values['run-base']),
    layout: values.layout,
  });
  const text = JSON.stringify(result);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(`${text}\n`);
}

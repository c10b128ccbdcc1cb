/**
 * `npm run bench`: the standard end-to-end scenarios against the real collector (durable log on,
 * clean mode, file exporter, gzip), each in its own process, the collector and the load generator
 * pinned to different cores where `taskset` exists. Writes bench/results/<time>.json and .md and
 * prints the table.
 *
 *   npm run bench                 all scenarios
 *   npm run bench -- --quick      shorter runs (a smoke test of the harness)
 *   npm run bench -- --only max,max-v2,ceiling,latency,backlog,idle,workers,stages,budget,instructions
 *   (max-v2: the max scenario with LiteLLM's OTel v2 spans instead of v1.79's)
 *   npm run bench -- --only ceiling --rates 40000,42000,44000
 *                                 fixed rates, each 12 s on a fresh collector, up to the first
 *                                 one it falls behind (default: 60 % to 150 % of the max row's
 *                                 figure in 10 % steps when max ran, else 20k to 50k by 5k)
 *   npm run bench -- --only backlog --backlog-seconds 600
 *                                 a longer backlog (default 30 s, 8 with --quick); with
 *                                 SPANMETER_MAX_DISK_BYTES=20GiB the log can hold it all
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { writeFileAtomic } from '../src/output/atomic.js';
import {
  STAGES,
  TARGET_US_PER_CALL,
  cpuPathSum,
  measure as measureInstructions,
  measureCpu,
  table as instructionTable,
  valgrindMissing,
} from './instructions.js';
import { procStats, treeStats, type LoadResult } from './loadgen.js';

const here = dirname(fileURLToPath(import.meta.url));
const buildRoot = resolve(here, '..'); // dist/
const repoRoot = resolve(buildRoot, '..');
const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const ncpu = cpus().length;

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'backlog-seconds': { type: 'string' }, rates: { type: 'string' } },
});
const only = args.only ? new Set(args.only.split(',')) : undefined;
const want = (name: string) => !only || only.has(name);
const DURATION = args.quick ? 4 : 12;
/**
 * `send_batch_size` in the scenarios: pipeline.yaml's default (100, the callback's `AFLO_BATCH_SIZE`)
 * unless `BENCH_BATCH_SIZE` says otherwise. Until the batch processor merged waiting batches
 * (`send_batch_max_size`), the scenarios used 1,000: 100-record files then cost a third more CPU.
 */
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 100);
/** Seconds of load before measuring (JIT warm-up); acknowledged calls still count for the output check. */
const WARMUP = args.quick ? 1 : 2;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function pinned(core: number | undefined, cmd: string, argv: string[]): [string, string[]] {
  return hasTaskset && core !== undefined && core < ncpu ? ['taskset', ['-c', String(core), cmd, ...argv]] : [cmd, argv];
}

interface Collector {
  child: ChildProcess;
  pid: number;
  url: string;
  admin: string;
  out: string;
  dir: string;
}

/** Extra node flags for the collector (`BENCH_NODE_FLAGS`), e.g. to compare a V8 setting. */
const nodeFlags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);

/**
 * One directory for the whole run, removed at its end. Scenarios do not delete their output files
 * as they finish: on ext4 without a journal (this machine's disk) the kernel does not reuse an
 * inode for 1–6 minutes after its file was deleted, and every file created in the meantime in the
 * same block group scans past all of them (`__ext4_new_inode` → `recently_deleted` in a profile).
 * Measured with `bench/filewrite.ts` (45 KB files, the gzip of a 1,000-record object): 780 µs of
 * CPU per durable file under /tmp right after other runs had deleted their files there, 326–347 µs
 * in directories without recent deletions, and `--only max` gave 40.5k / 41.0k calls/s against
 * 46.5k in a fresh TMPDIR. Deleting one scenario's thousands of output files made the next one pay
 * for them; only the log's data directory (a few large segment files) is removed at once.
 */
const runRoot = mkdtempSync(join(tmpdir(), 'spanmeter-bench-'));

/** Removes a finished collector's log data now; its output files go with the run's directory. */
function retire(c: { dir: string }): void {
  rmSync(join(c.dir, 'data'), { recursive: true, force: true });
}

/**
 * CPU per durable file write (temp file, write, fsync, close, rename, directory fsync; 45 KB, 4 at
 * a time) in the run's directory now: what the disk charges for each output file, reported beside
 * the sustained rate because it depends on the file system's recent history (see {@link runRoot}).
 */
async function fileWriteProbe(files = 200): Promise<number> {
  const dir = join(runRoot, 'probe');
  const body = Buffer.alloc(45_000, 7);
  const c0 = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < files) await writeFileAtomic(join(dir, `f${next++}`), body);
    }),
  );
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / files;
}

/** Collectors not yet stopped: killed when this process exits, so that a failed scenario leaves none running. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a collector on free ports. A port found free can be taken before the collector binds it
 * (an outgoing connection's local port comes from the same range): a collector that exits before
 * it is ready is started again on other ports, twice at most.
 */
async function startCollector(opts: { workers?: number; core?: string } = {}): Promise<Collector> {
  for (let attempt = 1; ; attempt++) {
    const c = await startCollectorOnce(opts);
    if (c) return c;
    if (attempt === 3) throw new Error('collector exited before it was ready, three times (its error is above)');
    process.stderr.write('collector exited before it was ready; starting it again on other ports\n');
  }
}

/** One try of {@link startCollector}: null when the collector exited before it was ready. */
async function startCollectorOnce(opts: { workers?: number; core?: string }): Promise<Collector | null> {
  const dir = mkdtempSync(join(runRoot, 'collector-'));
  const [http, grpc, admin] = [await freePort(), await freePort(), await freePort()];
  const argv = [
    join(buildRoot, 'src', 'cli.js'),
    'run',
    '--config',
    join(repoRoot, 'pipeline.yaml'),
    ...(opts.workers ? ['--workers', String(opts.workers)] : []),
  ];
  argv.unshift(...nodeFlags);
  const [cmd, a] = opts.core && hasTaskset ? ['taskset', ['-c', opts.core, process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, a, {
    cwd: repoRoot,
    env: {
      ...process.env,
      SPANMETER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
      SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
      SPANMETER_METRICS_ADDRESS: `127.0.0.1:${admin}`,
      SPANMETER_DATA_DIR: join(dir, 'data'),
      SPANMETER_OUT_DIR: join(dir, 'out'),
      SPANMETER_LOG_LEVEL: 'warn',
      AFLO_BATCH_SIZE: String(BATCH_SIZE),
      AFLO_FLUSH_INTERVAL: '5',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const adminUrl = `http://127.0.0.1:${admin}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${adminUrl}/health/ready`);
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    if (child.exitCode !== null) return null;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('collector did not become ready within 60 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // With taskset the child is taskset's exec'd node: same pid.
  return { child, pid: child.pid!, url: `http://127.0.0.1:${http}/v1/traces`, admin: adminUrl, out: join(dir, 'out'), dir };
}

/**
 * The collector's /metrics text. Tried twice: a keep-alive connection left idle during a load can
 * be closed by the collector just as it is used again ("other side closed").
 */
async function metricsText(c: Collector): Promise<string> {
  try {
    return await (await fetch(`${c.admin}/metrics`)).text();
  } catch {
    return await (await fetch(`${c.admin}/metrics`)).text();
  }
}

/** Sum of a metric's samples in the collector's /metrics text. */
async function metricSum(c: Collector, name: string): Promise<number> {
  const text = await metricsText(c);
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

type GcKind = 'major' | 'minor' | 'incremental';
/** What the collector's own metrics say so far: its garbage collections and its log's group commits. */
interface CollectorStats {
  /** prom-client's `nodejs_gc_duration_seconds`, by kind. */
  gc: Record<GcKind, { count: number; seconds: number }>;
  /** `spanmeter_wal_commit_duration_seconds`: count, sum and cumulative bucket counts by upper bound. */
  commits: { count: number; seconds: number; le: Map<string, number> };
}

async function collectorStats(c: Collector): Promise<CollectorStats> {
  const text = await metricsText(c);
  const gc: CollectorStats['gc'] = { major: { count: 0, seconds: 0 }, minor: { count: 0, seconds: 0 }, incremental: { count: 0, seconds: 0 } };
  const commits: CollectorStats['commits'] = { count: 0, seconds: 0, le: new Map() };
  for (const line of text.split('\n')) {
    let m = /^spanmeter_nodejs_gc_duration_seconds_(count|sum)\{kind="(major|minor|incremental)"\} (\S+)$/.exec(line);
    if (m) {
      gc[m[2] as GcKind][m[1] === 'count' ? 'count' : 'seconds'] = Number(m[3]);
      continue;
    }
    // One pipeline in the bench's configuration; summed in case of more.
    m = /^spanmeter_wal_commit_duration_seconds_(count|sum|bucket)\{(?:le="([^"]+)",)?pipeline="[^"]*"\} (\S+)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'count') commits.count += Number(m[3]);
    else if (m[1] === 'sum') commits.seconds += Number(m[3]);
    else if (m[2] !== undefined) commits.le.set(m[2], (commits.le.get(m[2]) ?? 0) + Number(m[3]));
  }
  return { gc, commits };
}

/** What happened between two {@link collectorStats}, for a row's detail: collections, then the log's group commits. */
function statsDelta(
  a: CollectorStats,
  b: CollectorStats,
): {
  majorCount: number;
  majorMs: number;
  incrementalMs: number;
  minorCount: number;
  minorMs: number;
  commits: number;
  commitMeanMs: number;
  commitsOver10ms: number;
  commitsOver25ms: number;
  text: string;
} {
  const ms = (k: GcKind) => Math.round((b.gc[k].seconds - a.gc[k].seconds) * 1000);
  const d = {
    majorCount: b.gc.major.count - a.gc.major.count,
    majorMs: ms('major'),
    incrementalMs: ms('incremental'),
    minorCount: b.gc.minor.count - a.gc.minor.count,
    minorMs: ms('minor'),
  };
  const commits = b.commits.count - a.commits.count;
  const over = (le: string) => commits - ((b.commits.le.get(le) ?? 0) - (a.commits.le.get(le) ?? 0));
  const c = {
    commits,
    commitMeanMs: commits > 0 ? Math.round(((b.commits.seconds - a.commits.seconds) / commits) * 1e4) / 10 : 0,
    commitsOver10ms: over('0.01'),
    commitsOver25ms: over('0.025'),
  };
  return {
    ...d,
    ...c,
    text:
      `${d.majorCount} full collections (${d.majorMs} ms, and ${d.incrementalMs} ms of incremental marking), ${d.minorCount} scavenges (${d.minorMs} ms); ` +
      `${c.commits} group commits of the log (write + fdatasync), mean ${c.commitMeanMs} ms, ${c.commitsOver10ms} over 10 ms, ${c.commitsOver25ms} over 25 ms`,
  };
}

/**
 * After the load stops: how long until the collector has caught up (write-ahead log forwarded,
 * spools uploaded, at most one open batch left). An acknowledged call is durable, not yet
 * processed; a collector that acknowledges faster than it processes builds a backlog, and that
 * rate is not sustainable. Returns seconds (Infinity after `limitS`).
 */
/**
 * The collector's CPU work for a run: CPU seconds of its process tree from before the load (its
 * warm-up included, as in the sustained figure) to the end of the drain, per acknowledged call.
 */
function cpuWork(
  r: LoadResult,
  drainS: number,
  before: ReturnType<typeof treeStats>,
  after: ReturnType<typeof treeStats>,
): { cpuSecondsTotal: number; callsPerCpuSecond: number; coresUsed: number } {
  const cpu = before && after ? after.cpuSeconds - before.cpuSeconds : 0;
  const wall = r.warmupS + r.durationS + drainS;
  return {
    cpuSecondsTotal: Math.round(cpu * 100) / 100,
    callsPerCpuSecond: cpu > 0 ? Math.round(r.callsAckedTotal / cpu) : 0,
    coresUsed: wall > 0 ? Math.round((cpu / wall) * 100) / 100 : 0,
  };
}

async function drainSeconds(c: Collector, batchSize: number, limitS = 300): Promise<number> {
  return (await drainTimes(c, batchSize, limitS)).all;
}

/**
 * {@link drainSeconds}, and when the log's backlog alone was gone (`log`, ≤ `all`): what is left
 * after that is held by the batch processor, which merge_wait holds back on purpose for up to
 * its value after the previous send.
 */
async function drainTimes(c: Collector, batchSize: number, limitS = 300): Promise<{ log: number; all: number }> {
  const t0 = performance.now();
  let log = Infinity;
  for (;;) {
    const [backlog, spool, pending] = await Promise.all([
      metricSum(c, 'spanmeter_wal_backlog_records'),
      metricSum(c, 'spanmeter_exporter_spool_objects'),
      metricSum(c, 'spanmeter_processor_batch_pending_records'),
    ]);
    const s = (performance.now() - t0) / 1000;
    if (backlog === 0 && log === Infinity) log = s;
    if (backlog === 0 && spool === 0 && pending <= batchSize) return { log, all: s };
    if (s > limitS) return { log, all: Infinity };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The batch processor's merge_wait in the scenarios (pipeline.yaml's SPANMETER_BATCH_MERGE_WAIT, 1 s by default), in seconds. */
const MERGE_WAIT_S = ((): number => {
  const v = process.env.SPANMETER_BATCH_MERGE_WAIT ?? '1s';
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(v);
  if (!m) throw new Error(`SPANMETER_BATCH_MERGE_WAIT: the bench reads ms or s, got ${v}`);
  return Number(m[1]) / (m[2] === 'ms' ? 1000 : 1);
})();

async function stopCollector(c: Collector): Promise<void> {
  c.child.kill('SIGTERM');
  await new Promise<void>((r) => (c.child.exitCode !== null ? r() : c.child.once('exit', () => r())));
}

/** Runs the load generator in its own (pinned) process. */
type LoadOpts = { rate?: number; duration?: number; concurrency?: number; gzip?: boolean; core?: number; layout?: 'v1.79' | 'v2' };

function load(c: Collector, o: LoadOpts): LoadResult {
  const { cmd, argv, out } = loadCommand(c, o);
  execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(out, 'utf8')) as LoadResult;
}

/** {@link load} without blocking this process (to sample the collector meanwhile). */
async function loadAsync(c: Collector, o: LoadOpts): Promise<LoadResult> {
  const { cmd, argv, out } = loadCommand(c, o);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(readFileSync(out, 'utf8')) as LoadResult;
}

function loadCommand(c: Collector, o: LoadOpts): { cmd: string; argv: string[]; out: string } {
  const out = join(c.dir, `load-${Date.now()}.json`);
  const [cmd, argv] = pinned(o.core, process.execPath, [
    join(here, 'loadgen.js'),
    '--url',
    c.url,
    '--duration',
    String(o.duration ?? DURATION),
    '--warmup',
    String(WARMUP),
    '--rate',
    String(o.rate ?? 0),
    '--concurrency',
    String(o.concurrency ?? 8),
    '--pid',
    String(c.pid),
    '--out',
    out,
    ...(o.gzip ? ['--gzip'] : []),
    ...(o.layout ? ['--layout', o.layout] : []),
  ]);
  return { cmd, argv, out };
}

/** Counts llm_api_call records in the output files (one per LLM call). */
function countCalls(out: string): number {
  let n = 0;
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json.gz'))
        for (const r of JSON.parse(gunzipSync(readFileSync(p)).toString()) as { meterApiName: string }[]) if (r.meterApiName === 'llm_api_call') n++;
    }
  };
  walk(out);
  return n;
}

interface Row {
  scenario: string;
  figure: string;
  target: string;
  detail: string;
}

async function main() {
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const machine = `${ncpu} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${hasTaskset ? ', collector on core 0, load on core 1' : ', no taskset (unpinned)'}, send_batch_size ${BATCH_SIZE}${process.env.BENCH_BATCH_SIZE ? ' (BENCH_BATCH_SIZE)' : ' (pipeline.yaml default)'}${nodeFlags.length ? `, collector flags ${nodeFlags.join(' ')}` : ''}`;
  process.stderr.write(`machine: ${machine}\n`);

  for (const layout of ['v1.79', 'v2'] as const) {
    const name = layout === 'v1.79' ? 'max' : 'max-v2';
    if (!want(name)) continue;
    const probe = await fileWriteProbe();
    const c = await startCollector({ core: '0' });
    const cpu0 = treeStats(c.pid);
    const stats0 = await collectorStats(c);
    const r = load(c, { core: 1, concurrency: 8, layout });
    const drain = await drainSeconds(c, BATCH_SIZE);
    const work = cpuWork(r, drain, cpu0, treeStats(c.pid));
    const gc = statsDelta(stats0, await collectorStats(c));
    await stopCollector(c);
    const written = countCalls(c.out);
    // Sustained: every acknowledged call processed (log forwarded, spools uploaded) within the run plus its drain.
    const sustained = Math.round(r.callsAckedTotal / (r.warmupS + r.durationS + drain));
    raw[name] = {
      ...r,
      ackedRunIds: undefined,
      callsWritten: written,
      drainSeconds: drain,
      sustainedCallsPerS: sustained,
      fileWriteProbeCpuMicros: probe,
      ...work,
      gc,
    };
    rows.push({
      scenario: `max sustained, 1 worker (durable, clean, file, gzip; LiteLLM ${layout === 'v2' ? 'OTel v2 spans' : 'v1.79 spans'})`,
      figure: `${sustained.toLocaleString('en')} calls/s (${(sustained * 3).toLocaleString('en')} spans/s)`,
      target: '≥ 50,000 calls/s',
      detail: `acknowledged ${r.callsPerS.toLocaleString('en')} calls/s for ${r.durationS} s (after ${r.warmupS} s of warm-up), then ${drain.toFixed(1)} s to work off the backlog; ${work.callsPerCpuSecond.toLocaleString('en')} calls per CPU-second of the collector over load and drain; collector CPU ${r.collector?.cpuPercent ?? '?'}%, peak RSS ${r.collector?.peakRssMb ?? '?'} MB, p99 ${r.latencyMs.p99} ms; output check: ${written} of ${r.callsAckedTotal} acknowledged calls written${written === r.callsAckedTotal ? ' ✔' : ' ✘'}; over load and drain ${gc.text}; a durable 45 KB file write cost ${Math.round(probe)} µs of CPU in the run's directory just before (docs/performance.md: deleting many files on ext4 without a journal)`,
    });
    retire(c);
  }

  if (want('latency')) {
    const c = await startCollector({ core: '0' });
    const stats0 = await collectorStats(c);
    const r = load(c, { core: 1, rate: 10_000, concurrency: 16 });
    const gc = statsDelta(stats0, await collectorStats(c));
    const drain = await drainSeconds(c, BATCH_SIZE);
    await stopCollector(c);
    raw.latency = { ...r, ackedRunIds: undefined, drainSeconds: drain, gc };
    rows.push({
      scenario: 'ack latency at 10,000 calls/s',
      figure: `p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
      target: 'p99 ≤ 20 ms',
      detail: `achieved ${r.callsPerS.toLocaleString('en')} calls/s; refused ${r.requestsRefused}, failed ${r.requestsFailed}; backlog worked off ${drain.toFixed(1)} s after the load stopped (≈ 0 when the collector keeps up); during warm-up and load: ${gc.text}`,
    });
    rows.push({
      scenario: 'RSS at 10,000 calls/s',
      figure: `${r.collector?.peakRssMb ?? '?'} MB peak`,
      target: '≤ 200 MB',
      detail: `collector CPU ${r.collector?.cpuPercent ?? '?'}%`,
    });
    retire(c);

    // CPU per call at half the rate: linear in spans means about the same figure.
    const h = await startCollector({ core: '0' });
    const half = load(h, { core: 1, rate: 5_000, concurrency: 16 });
    await stopCollector(h);
    retire(h);
    const perCall = (x: LoadResult) => (x.collector ? (x.collector.cpuSeconds / (x.callsPerS * x.durationS)) * 1e6 : NaN);
    raw.linearity = { at5k: { ...half, ackedRunIds: undefined }, cpuMicrosPerCall5k: perCall(half), cpuMicrosPerCall10k: perCall(r) };
    rows.push({
      scenario: 'CPU per LLM call at 5,000 and 10,000 calls/s',
      figure: `${perCall(half).toFixed(0)} and ${perCall(r).toFixed(0)} µs of CPU per call`,
      target: 'linear in spans (about equal)',
      detail: `collector CPU ${half.collector?.cpuPercent ?? '?'}% and ${r.collector?.cpuPercent ?? '?'}% of a core (all threads); p99 at 5,000 calls/s ${half.latencyMs.p99} ms`,
    });
  }

  if (want('ceiling')) {
    // The max scenario's figure includes reading a backlog back from disk (the load outruns the
    // forwarder). This one asks the operator's question instead: the highest fixed rate the
    // collector keeps up with, acknowledging at the offered rate with no backlog left behind.
    // Default: 60 % to 100 % of the max scenario's figure when it ran (the same host minutes
    // apart), else 20k to 50k calls/s.
    const max = (raw.max as { sustainedCallsPerS?: number } | undefined)?.sustainedCallsPerS;
    const defaults = max ? [0.6, 0.7, 0.8, 0.9, 1].map((f) => Math.round((max * f) / 500) * 500).join(',') : '20000,25000,30000,35000,40000,45000,50000';
    const rates = (args.rates ?? defaults).split(',').map(Number);
    // With the max row's fractions, a collector that keeps up with all of them is tried further,
    // in steps of 10 % of that figure up to 150 %, until it falls behind.
    if (max && args.rates === undefined) for (const f of [1.1, 1.2, 1.3, 1.4, 1.5]) rates.push(Math.round((max * f) / 500) * 500);
    if (rates.some((r) => !Number.isInteger(r) || r <= 0)) throw new Error(`--rates: want calls/s as whole numbers separated by commas, got ${args.rates}`);
    const steps: {
      rate: number;
      achieved: number;
      cpuPercent: number | undefined;
      p99: number;
      drainS: number;
      logDrainS: number;
      keptUp: boolean;
      written: number;
      acked: number;
      gc: ReturnType<typeof statsDelta>;
    }[] = [];
    for (const rate of rates) {
      const c = await startCollector({ core: '0' });
      const stats0 = await collectorStats(c);
      const r = load(c, { core: 1, rate, concurrency: 32 });
      const gc = statsDelta(stats0, await collectorStats(c));
      const { log: logDrainS, all: drainS } = await drainTimes(c, BATCH_SIZE, 60);
      await stopCollector(c);
      const written = countCalls(c.out);
      retire(c);
      // Kept up: the offered rate acknowledged (within 5 %: the generator's pacing falls 2–3 % short
      // even of rates a collector idles at, e.g. 9,787 of 10,000), the log's backlog gone within a
      // second, and everything delivered within a second plus merge_wait (the batch processor
      // holds the last batches back for up to merge_wait, to merge them).
      const keptUp = r.callsPerS >= rate * 0.95 && r.requestsRefused === 0 && r.requestsFailed === 0 && logDrainS <= 1 && drainS <= 1 + MERGE_WAIT_S;
      steps.push({
        rate,
        achieved: r.callsPerS,
        cpuPercent: r.collector?.cpuPercent,
        p99: r.latencyMs.p99,
        drainS,
        logDrainS,
        keptUp,
        written,
        acked: r.callsAckedTotal,
        gc,
      });
      if (!keptUp) break;
    }
    raw.ceiling = steps;
    const best = steps.filter((x) => x.keptUp).pop();
    rows.push({
      scenario: 'highest fixed rate kept up with, 1 worker (durable, clean, file, gzip)',
      figure: best ? `${best.rate.toLocaleString('en')} calls/s (${(best.rate * 3).toLocaleString('en')} spans/s)` : `none of ${rates.join(', ')}`,
      target: '≥ 50,000 calls/s',
      detail:
        (max && args.rates === undefined ? `rates as fractions of the max row's ${max.toLocaleString('en')}; ` : '') +
        steps
          .map(
            (x) =>
              `${x.rate.toLocaleString('en')}/s: ${x.keptUp ? 'kept up' : 'fell behind'} (acknowledged ${x.achieved.toLocaleString('en')}/s, CPU ${x.cpuPercent ?? '?'}%, p99 ${x.p99} ms; under load ${x.gc.majorCount} full collections (${x.gc.majorMs} ms), ${x.gc.minorCount} scavenges (${x.gc.minorMs} ms), group commits mean ${x.gc.commitMeanMs} ms, ${x.gc.commitsOver10ms} of ${x.gc.commits} over 10 ms; log backlog gone ${Number.isFinite(x.logDrainS) ? `${x.logDrainS.toFixed(1)} s` : 'not within 60 s'} and all delivered ${Number.isFinite(x.drainS) ? `${x.drainS.toFixed(1)} s` : 'not within 60 s'} after, output ${x.written} of ${x.acked} calls${x.written === x.acked ? ' ✔' : ' ✘'})`,
          )
          .join('; ') +
        (best && best === steps[steps.length - 1] ? '; the highest rate tried (--rates)' : ''),
    });
  }

  if (want('backlog')) {
    /** The RSS series' step in seconds for n samples 2 s apart: 2 s, or more so as to list about 20. */
    const every = (n: number): number => 2 * Math.max(1, Math.ceil(n / 20));
    // Flat out for longer than the collector can keep up: the backlog grows in the log on disk;
    // memory must not grow with it.
    const secs = args['backlog-seconds'] !== undefined ? Number(args['backlog-seconds']) : args.quick ? 8 : 30;
    if (!Number.isInteger(secs) || secs < 4) throw new Error(`--backlog-seconds: want a whole number of seconds ≥ 4, got ${args['backlog-seconds']}`);
    const c = await startCollector({ core: '0' });
    const running = loadAsync(c, { core: 1, concurrency: 8, duration: secs });
    const series: { t: number; rssMb: number; backlogRecords: number; diskMb: number }[] = [];
    const t0 = Date.now();
    let done = false;
    void running.finally(() => (done = true));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the callback above while this loop awaits; the compiler does not see it
    while (!done) {
      await new Promise((r) => setTimeout(r, 2_000));
      const st = procStats(c.pid);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the callback above while this loop awaits; the compiler does not see it
      if (st && !done)
        series.push({
          t: Math.round((Date.now() - t0) / 1000),
          rssMb: Math.round(st.rssMb),
          backlogRecords: await metricSum(c, 'spanmeter_wal_backlog_records'),
          diskMb: Math.round((await metricSum(c, 'spanmeter_disk_budget_used_bytes')) / 1e6),
        });
    }
    const diskMaxMb = Math.round((await metricSum(c, 'spanmeter_disk_budget_max_bytes')) / 1e6);
    const r = await running;
    await stopCollector(c);
    raw.backlog = { ...r, ackedRunIds: undefined, series };
    const last = series[series.length - 1];
    const calls = (last?.backlogRecords ?? 0) * r.callsPerRequest;
    const half = series.slice(Math.floor(series.length / 2)).map((x) => x.rssMb);
    rows.push({
      scenario: `memory under a growing backlog (${secs} s flat out)`,
      figure: `RSS ${Math.min(...half)}–${Math.max(...half)} MB in the second half`,
      target: 'bounded',
      detail: `backlog in the log at the end ≈ ${calls.toLocaleString('en')} calls, disk budget used ${last?.diskMb ?? '?'} of ${diskMaxMb} MB (SPANMETER_MAX_DISK_BYTES); requests refused ${r.requestsRefused}; RSS every ${every(series.length)} s: ${series
        .filter((_, i) => i % (every(series.length) / 2) === 0)
        .map((x) => x.rssMb)
        .join(' ')} MB; peak ${r.collector?.peakRssMb ?? '?'} MB`,
    });
    retire(c);
  }

  if (want('idle')) {
    const c = await startCollector({ core: '0' });
    await new Promise((r) => setTimeout(r, 2_000));
    const a = procStats(c.pid);
    const secs = args.quick ? 5 : 20;
    await new Promise((r) => setTimeout(r, secs * 1000));
    const b = procStats(c.pid);
    await stopCollector(c);
    const pct = a && b ? ((b.cpuSeconds - a.cpuSeconds) / secs) * 100 : NaN;
    raw.idle = { cpuPercent: pct, seconds: secs, rssMb: b?.rssMb };
    rows.push({ scenario: 'idle CPU', figure: `${pct.toFixed(2)}% of a core`, target: '≤ 1%', detail: `over ${secs} s, RSS ${b?.rssMb.toFixed(0)} MB` });
    retire(c);
  }

  if (want('workers') && ncpu >= 2) {
    const c = await startCollector({ workers: 2 });
    const cpu0 = treeStats(c.pid);
    const r = load(c, { concurrency: 16 });
    const drain = await drainSeconds(c, BATCH_SIZE);
    const work = cpuWork(r, drain, cpu0, treeStats(c.pid));
    await stopCollector(c);
    const written = countCalls(c.out);
    const sustained = Math.round(r.callsAckedTotal / (r.warmupS + r.durationS + drain));
    raw.workers = { ...r, ackedRunIds: undefined, drainSeconds: drain, sustainedCallsPerS: sustained, callsWritten: written, ...work };
    const one = (raw.max as { sustainedCallsPerS?: number } | undefined)?.sustainedCallsPerS;
    const oneEff = (raw.max as { callsPerCpuSecond?: number } | undefined)?.callsPerCpuSecond;
    // On a machine where the load generator shares the cores, the workers cannot get N cores; the
    // work done per CPU-second they did get shows whether they scale (1.0 = no loss to a second worker).
    const efficiency = `${work.callsPerCpuSecond.toLocaleString('en')} calls per CPU-second of the collector (primary + workers, load + drain${oneEff ? `: ${(work.callsPerCpuSecond / oneEff).toFixed(2)}× one worker's` : ''}), ${work.coresUsed} cores used on average while the load generator took ${r.generatorCpuPercent}% of one; `;
    rows.push({
      scenario: '--workers 2 (collector and load share the 2 cores)',
      figure: `${sustained.toLocaleString('en')} calls/s sustained`,
      target: 'close to 2× one worker',
      detail: `${one ? `${(sustained / one).toFixed(2)}× the 1-worker figure; ` : ''}${efficiency}acknowledged ${r.callsPerS.toLocaleString('en')} calls/s, then ${drain.toFixed(1)} s to work off the backlog; output check: ${written} of ${r.callsAckedTotal} written${written === r.callsAckedTotal ? ' ✔' : ' ✘'} (the load generator takes a core too on this machine, so 2 workers cannot have 2 cores here)`,
    });
    retire(c);

    // What a machine with too few cores can still show: the same load per worker (5,000 calls/s)
    // on one worker and on two, where neither is short of CPU. Linear scaling needs a second
    // worker to add no work per call (no shared lock, no extra copies, a primary that only hands
    // out connections); the CPU per call of the two setups, alternated (1, 2, 2, 1 workers) to
    // cancel the host's drift, says whether it does. (The same total rate on one worker would
    // also compare group commits and batches shared by twice the calls.)
    const PER_WORKER = 5_000;
    const fixed: {
      workers: number;
      rate: number;
      cpuMicrosPerCall: number;
      primaryShare: number;
      p99: number;
      achieved: number;
      written: number;
      acked: number;
    }[] = [];
    for (const workers of args.quick ? [1, 2] : [1, 2, 2, 1]) {
      const f = await startCollector(workers > 1 ? { workers } : {});
      const t0 = treeStats(f.pid);
      const p0 = procStats(f.pid);
      const fr = load(f, { rate: PER_WORKER * workers, concurrency: 16 });
      const t1 = treeStats(f.pid);
      const p1 = procStats(f.pid);
      await drainSeconds(f, BATCH_SIZE, 60);
      await stopCollector(f);
      const fw = countCalls(f.out);
      retire(f);
      const tree = t0 && t1 ? t1.cpuSeconds - t0.cpuSeconds : NaN;
      const primary = p0 && p1 ? p1.cpuSeconds - p0.cpuSeconds : NaN;
      // Over the whole load (warm-up included): the tree's CPU per acknowledged call.
      fixed.push({
        workers,
        rate: PER_WORKER * workers,
        cpuMicrosPerCall: (tree / fr.callsAckedTotal) * 1e6,
        primaryShare: workers > 1 ? primary / tree : 1,
        p99: fr.latencyMs.p99,
        achieved: fr.callsPerS,
        written: fw,
        acked: fr.callsAckedTotal,
      });
    }
    const mean = (w: number) => {
      const xs = fixed.filter((x) => x.workers === w).map((x) => x.cpuMicrosPerCall);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const ratio = mean(2) / mean(1);
    raw.workersFixedRate = { ratePerWorker: PER_WORKER, runs: fixed, cpuPerCallRatio: ratio };
    rows.push({
      scenario: `--workers 2 at ${(2 * PER_WORKER).toLocaleString('en')} calls/s against 1 worker at ${PER_WORKER.toLocaleString('en')} (the same load per worker)`,
      figure: `${ratio.toFixed(2)}× the CPU per call of one worker`,
      target: '≈ 1.0× (a second worker adds no work per call)',
      detail:
        fixed
          .map(
            (x) =>
              `${x.workers} worker${x.workers > 1 ? 's' : ''} at ${x.rate.toLocaleString('en')}/s: ${x.cpuMicrosPerCall.toFixed(1)} µs per call${x.workers > 1 ? ` (primary ${(x.primaryShare * 100).toFixed(1)} % of it)` : ''}, acknowledged ${x.achieved.toLocaleString('en')}/s, p99 ${x.p99} ms, output ${x.written} of ${x.acked}${x.written === x.acked ? ' ✔' : ' ✘'}`,
          )
          .join('; ') + ' (unpinned; CPU of the process tree over the load, warm-up included)',
    });
  }

  if (want('stages')) {
    for (const script of ['decode', 'convert', 'enrich', 'exporters']) {
      const file = join(here, `${script}.js`);
      if (!existsSync(file)) continue;
      const res = spawnSync(process.execPath, [file, ...(args.quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 600_000 });
      raw[`stage:${script}`] = { status: res.status, stdout: res.stdout.slice(-4000) };
      rows.push({
        scenario: `stage micro-benchmark: ${script}`,
        figure: res.status === 0 ? 'see detail' : `failed (${res.status})`,
        target: '',
        detail: res.stdout.trim().split('\n').slice(-6).join(' | '),
      });
    }
  }

  if (want('budget')) {
    // The stages of the path timed natively, each alone (bench/instructions.ts --cpu): how much of
    // the per-call budget of the throughput target they spend before HTTP, disk and the rest.
    const r = await measureCpu(STAGES, args.quick ? 50 : 200, args.quick ? 1 : 3);
    raw.budget = r;
    const sum = cpuPathSum(r)!;
    rows.push({
      scenario: `CPU per LLM call of the path's stages alone (native, pinned, median of ${r.repeats})`,
      figure: `${sum.toFixed(1)} µs (${((100 * sum) / TARGET_US_PER_CALL).toFixed(0)} % of the ${TARGET_US_PER_CALL} µs a call may cost at 50,000 calls/s)`,
      target: '',
      detail:
        STAGES.map((s) => `${s} ${r.usPerCall[s]!.toFixed(2)}`).join(', ') +
        ' µs per call (decode-all and wal-read are not in the path; bench/instructions.ts --cpu)',
    });
  }

  if (want('instructions')) {
    const scenario = 'instructions per LLM call (valgrind, node --predictable)';
    if (valgrindMissing()) {
      rows.push({ scenario, figure: 'not measured', target: '', detail: 'valgrind is not installed (Debian: apt-get install valgrind)' });
    } else {
      // Not shortened by --quick: with fewer requests the JIT has not settled and the counts mean little.
      const r = await measureInstructions(STAGES, 40);
      raw.instructions = r;
      const lines = instructionTable(r);
      rows.push({
        scenario,
        figure: lines[lines.length - 1]!.split('|')[2]!.trim(),
        target: 'a regression signal the host load does not move',
        detail:
          lines
            .slice(2, -1)
            .map((l) =>
              l
                .split('|')
                .slice(1, 3)
                .map((c) => c.trim())
                .join(' '),
            )
            .join(', ') + ' (stages: bench/instructions.ts)',
      });
    }
  }

  const md = [
    `# spanmeter benchmark — ${new Date().toISOString()}`,
    '',
    `Machine: ${machine}. Shared and noisy: compare ratios, not absolutes.`,
    '',
    '| scenario | figure | target | detail |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.figure} | ${r.target} | ${r.detail.replace(/\|/g, '\\|')} |`),
    '',
  ].join('\n');
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(outDir, `${stamp}.json`), JSON.stringify({ machine, rows, raw }, null, 2));
  writeFileSync(join(outDir, `${stamp}.md`), md);
  process.stdout.write(`${md}\nwritten: bench/results/${stamp}.{md,json}\n`);
}

try {
  await main();
} finally {
  // BENCH_KEEP=1 leaves the run's directory (its output files) in place: then a run started within
  // minutes of this one does not pay for this one's deletions (see runRoot), and the output can be read.
  if (process.env['BENCH_KEEP'] === '1') process.stderr.write(`kept: ${runRoot}\n`);
  else rmSync(runRoot, { recursive: true, force: true });
}

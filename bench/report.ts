/**
 * `spanmeter report` over many records: writes N meter records (default 10 million, the records of
 * ~2.3 million calls over 30 days, 10,000 records per object as the file exporter's default) in the
 * file exporter's layout, then times `spanmeter report` (a child process, csv to /dev/null) over
 * the first tenth of the days and over all of them, with its peak RSS (VmHWM) — the memory must not
 * grow with the records.
 *
 *   npm run build:all && node dist/bench/report.js [--records 10000000] [--dir /tmp/x] [--keep]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LlmCall } from '../src/data/llm-call.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { encodeBatch } from '../integrations/amberflo/objects.js';
import { MappingCache, toMeterRecords } from '../integrations/amberflo/mapping.js';
import { rng } from './lib/workload.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '..', 'src', 'cli.js');
const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '10000000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '4' },
  },
});
const N = Number(args.records);
const DAYS = 30;
const DAY0 = Date.UTC(2026, 10, 1); // November 2026
const PER_OBJECT = 10_000;
const PATH = 'litellm-metering';

const TEAMS = Array.from({ length: 20 }, (_, i) => `team-${i}`);
const KEYS = Array.from({ length: 50 }, (_, i) => `key-${i}`);
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'claude-haiku', 'gemini-pro', 'llama-70b'];

function call(i: number, t: number, r: () => number): LlmCall {
  const failed = r() < 0.03;
  const prompt = failed ? 0 : 10 + Math.floor(r() * 4000);
  const completion = failed ? 0 : 1 + Math.floor(r() * 800);
  const k = Math.floor(r() * KEYS.length);
  return {
    source: 'span',
    id: `chatcmpl-bench-${i}`,
    traceId: null,
    spanId: null,
    startTimeUnixNano: `${t}000000`,
    endTimeUnixNano: `${t}000000`,
    startTimeMs: t,
    durationMs: 50 + Math.floor(r() * 8000),
    callType: 'acompletion',
    model: MODELS[Math.floor(r() * MODELS.length)]!,
    provider: 'openai',
    modelMapKey: null,
    modelMapProvider: null,
    modelId: null,
    modelGroup: null,
    apiBase: null,
    region: null,
    batch: false,
    n: null,
    usage: {
      promptTokens: prompt,
      completionTokens: completion,
      totalTokens: prompt + completion,
      cachedReadTokens: r() < 0.3 ? Math.floor(prompt / 2) : 0,
      cacheCreationTokens: 0,
      reasoningTokens: 0,
    },
    keyHash: null,
    keyAlias: KEYS[k]!,
    keyMetadata: null,
    teamId: TEAMS[k % TEAMS.length]!,
    teamAlias: null,
    teamMetadata: null,
    userId: 'u',
    orgId: null,
    endUser: null,
    error: failed ? { type: 'RateLimitError', code: '429', message: 'rate limited', provider: 'openai', traceback: null } : null,
    guardrails: null,
    requestTags: null,
    responseCost: null,
    stream: null,
    droppedAttributes: 0,
  } as LlmCall;
}

/** Writes ≥ N records in time order; returns the record and object counts. */
function generate(dir: string): { records: number; objects: number; bytes: number } {
  const r = rng(42);
  const opts = { mode: 'clean', hostedEnv: 'prod', sendObjectMetadata: false } as const;
  const cache = new MappingCache();
  const callsEstimate = Math.ceil(N / 4.3);
  let records = 0;
  let objects = 0;
  let bytes = 0;
  let batch: MeterRecord[] = [];
  const flush = () => {
    const obj = encodeBatch(batch, { path: PATH });
    const file = join(dir, ...obj.key.split('/'));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, obj.body);
    objects++;
    bytes += obj.body.length;
    batch = [];
  };
  for (let i = 0; records < N; i++) {
    const t = DAY0 + Math.floor((i / callsEstimate) * DAYS * 86_400_000);
    const recs = toMeterRecords(call(i, t, r), opts, cache);
    batch.push(...recs);
    records += recs.length;
    if (batch.length >= PER_OBJECT) flush();
  }
  if (batch.length) flush();
  return { records, objects, bytes };
}

/** Runs `spanmeter report` and samples its peak RSS (VmHWM, kB) from /proc until it exits. */
function report(
  dir: string,
  from: string,
  to: string,
  by: string,
  nodeFlags: string[] = [],
): Promise<{ seconds: number; cpuSeconds: number; peakRssMiB: number; rows: number }> {
  return new Promise((resolveRun, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        cli,
        'report',
        '--dir',
        dir,
        '--path',
        PATH,
        '--from',
        from,
        '--to',
        to,
        '--by',
        by,
        '--format',
        'csv',
        '--quiet',
        '--concurrency',
        args.concurrency,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    let hwm = 0;
    let ticks = 0; // user + system CPU, in clock ticks (100 per second on Linux)
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]));
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks = Math.max(ticks, Number(f[11]) + Number(f[12]));
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, 20);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) {
        reject(new Error(`report exited with ${code}`));
        return;
      }
      resolveRun({
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        cpuSeconds: ticks / 100,
        peakRssMiB: hwm / 1024,
        rows: out.trim().split('\n').length - 1,
      });
    });
  });
}

const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'spanmeter-bench-report-'));
try {
  const t = Date.now();
  const marker = join(dir, `.generated-${N}`);
  if (!existsSync(marker)) {
    const g = generate(dir);
    writeFileSync(marker, JSON.stringify(g));
    console.log(
      `generated ${g.records.toLocaleString('en-US')} records in ${g.objects} objects (${(g.bytes / 1048576).toFixed(0)} MiB gzip) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  const g = JSON.parse(readFileSync(marker, 'utf8')) as { records: number; objects: number; bytes: number };
  const iso = (ms: number) => new Date(ms).toISOString();
  // Rows (groups) grow with the days when the day is a group field; without it they do not, and
  // neither may the memory, however many records go through.
  // The last run caps V8's old generation: the month must fit, whatever the records.
  const runs: { days: number; by: string; flags?: string[] }[] = [];
  for (const by of ['day,team,key,model', 'team,key,model']) for (const days of [3, DAYS]) runs.push({ days, by });
  runs.push({ days: DAYS, by: 'day,team,key,model', flags: ['--max-old-space-size=96'] });
  console.log(`node ${process.version}, report --concurrency ${args.concurrency}`);
  console.log('| days | records | group by | node flags | time | CPU (user+sys) | records/s | peak RSS | rows |');
  console.log('|---:|---:|---|---|---:|---:|---:|---:|---:|');
  for (const run of runs) {
    const recs = Math.round((g.records * run.days) / DAYS);
    const r = await report(dir, iso(DAY0), iso(DAY0 + run.days * 86_400_000), run.by, run.flags);
    console.log(
      `| ${run.days} | ${(recs / 1e6).toFixed(2)} M | ${run.by} | ${run.flags?.join(' ') ?? ''} | ${r.seconds.toFixed(1)} s | ${r.cpuSeconds.toFixed(1)} s | ${Math.round(recs / r.seconds).toLocaleString('en-US')} | ${r.peakRssMiB.toFixed(0)} MiB | ${r.rows.toLocaleString('en-US')} |`,
    );
  }
} finally {
  if (!args.keep && !args.dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * Usage per day × team × key × model from meter records: calls, errors, input / cached / output
 * tokens, images and latency percentiles. Order-independent and bounded: one row per group, each
 * with a small latency histogram, however many records go through.
 */
import type { MeterRecord } from '../data/meter-record.js';

/** The meter names (`meterApiName`) of the records a usage report sums; the record mapping names them. */
export interface UsageMeters {
  /** 1 per call (errors included; `error_code` other than `n` marks an error). */
  readonly call: string;
  /** A call's duration in ms. */
  readonly callMs: string;
  /** Prompt (`type: in`, `cache: r` when read from a cache) and completion (`type: out`) tokens. */
  readonly textTokens: string;
  /** Image generation: completion tokens. */
  readonly imageTokens: string;
  /** Image generation: images. */
  readonly images: string;
}

export const GROUP_FIELDS = ['day', 'team', 'key', 'model'] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

export interface UsageRow {
  day: string;
  team: string;
  key: string;
  model: string;
  calls: number;
  errors: number;
  /** Prompt tokens, cached ones included. */
  inputTokens: number;
  /** Prompt tokens read from a cache (clean mode's `cache: r`; 0 in compat mode, which does not split them). */
  cachedTokens: number;
  /** Completion tokens (text and image generation). */
  outputTokens: number;
  images: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
}

/**
 * Latency histogram: exact below 1,024 ms, then 64 buckets per doubling (~1.1 % wide). A
 * percentile is exact for calls under a second and within ~1 % above.
 */
export class LatencyHistogram {
  /** Counts by bucket, dense (a few kB per group), grown to the largest bucket seen. */
  private counts = new Uint32Array(64);
  count = 0;

  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const v = Math.round(ms);
    const b = v < 1024 ? v : 1024 + Math.floor(Math.log2(v / 1024) * 64);
    if (b >= this.counts.length) {
      const bigger = new Uint32Array(Math.max(b + 1, this.counts.length * 2));
      bigger.set(this.counts);
      this.counts = bigger;
    }
    this.counts[b]!++;
    this.count++;
  }

  /** Nearest-rank percentile (q in (0, 1]); a bucket above 1,024 ms answers with its lower bound. */
  percentile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return b < 1024 ? b : Math.round(1024 * 2 ** ((b - 1024) / 64));
    }
    return null;
  }
}

/** A group being summed: the row's counts, with the latencies still a histogram. */
type Acc = Omit<UsageRow, 'latencyP50Ms' | 'latencyP95Ms' | 'latencyP99Ms'> & { latency: LatencyHistogram };

const dimension = (r: MeterRecord, k: string): string => {
  const v = r.dimensions?.[k];
  return v === null || v === undefined || v === '' ? 'unknown' : v;
};

export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export class UsageTable {
  private readonly rows = new Map<string, Acc>();
  /** Records of meters the table does not count (object metadata, error details, others). */
  otherRecords = 0;
  private readonly byDay: boolean;
  private readonly byTeam: boolean;
  private readonly byKey: boolean;
  private readonly byModel: boolean;
  /** `YYYY-MM-DD` by day number (a month has 30 of them). */
  private readonly days = new Map<number, string>();
  /** The previous record's group: a call's records come one after the other with the same one. */
  private last?: { day: number; team: string; key: string; model: string; acc: Acc };

  constructor(
    private readonly meters: UsageMeters,
    by: readonly GroupField[] = GROUP_FIELDS,
  ) {
    this.byDay = by.includes('day');
    this.byTeam = by.includes('team');
    this.byKey = by.includes('key');
    this.byModel = by.includes('model');
  }

  add(records: readonly MeterRecord[]): void {
    for (const r of records) this.addOne(r);
  }

  private row(r: MeterRecord): Acc {
    const dayNo = this.byDay ? Math.floor(r.meterTimeInMillis / 86_400_000) : 0;
    const team = this.byTeam ? dimension(r, 'team') : '*';
    const key = this.byKey ? dimension(r, 'key_name') : '*';
    const model = this.byModel ? dimension(r, 'model') : '*';
    const l = this.last;
    if (l !== undefined && l.day === dayNo && l.team === team && l.key === key && l.model === model) return l.acc;
    let day = '*';
    if (this.byDay) {
      day = this.days.get(dayNo) ?? dayOf(r.meterTimeInMillis);
      this.days.set(dayNo, day);
    }
    const id = `${day}\u0000${team}\u0000${key}\u0000${model}`;
    let a = this.rows.get(id);
    if (!a)
      this.rows.set(
        id,
        (a = { day, team, key, model, calls: 0, errors: 0, inputTokens: 0, cachedTokens: 0, outputTokens: 0, images: 0, latency: new LatencyHistogram() }),
      );
    this.last = { day: dayNo, team, key, model, acc: a };
    return a;
  }

  private addOne(r: MeterRecord): void {
    const v = Number.isFinite(r.meterValue) ? r.meterValue : 0;
    const meters = this.meters;
    switch (r.meterApiName) {
      case meters.call: {
        const a = this.row(r);
        a.calls += v;
        const code = r.dimensions?.error_code;
        if (code !== undefined && code !== null && code !== 'n') a.errors += v;
        return;
      }
      case meters.callMs:
        this.row(r).latency.add(v);
        return;
      case meters.textTokens: {
        const a = this.row(r);
        const type = r.dimensions?.type;
        if (type === 'in') {
          a.inputTokens += v;
          if (r.dimensions?.cache === 'r') a.cachedTokens += v;
        } else if (type === 'out') a.outputTokens += v;
        return;
      }
      case meters.imageTokens:
        this.row(r).outputTokens += v;
        return;
      case meters.images:
        this.row(r).images += v;
        return;
      default:
        this.otherRecords++;
    }
  }

  /** Rows sorted by day, team, key, model. */
  result(): UsageRow[] {
    const out: UsageRow[] = [];
    for (const a of this.rows.values()) {
      out.push({
        day: a.day,
        team: a.team,
        key: a.key,
        model: a.model,
        calls: a.calls,
        errors: a.errors,
        inputTokens: a.inputTokens,
        cachedTokens: a.cachedTokens,
        outputTokens: a.outputTokens,
        images: a.images,
        latencyP50Ms: a.latency.percentile(0.5),
        latencyP95Ms: a.latency.percentile(0.95),
        latencyP99Ms: a.latency.percentile(0.99),
      });
    }
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    return out.sort((x, y) => cmp(x.day, y.day) || cmp(x.team, y.team) || cmp(x.key, y.key) || cmp(x.model, y.model));
  }
}

const COLUMNS: [keyof UsageRow, string][] = [
  ['day', 'day'],
  ['team', 'team'],
  ['key', 'key'],
  ['model', 'model'],
  ['calls', 'calls'],
  ['errors', 'errors'],
  ['inputTokens', 'input_tokens'],
  ['cachedTokens', 'cached_tokens'],
  ['outputTokens', 'output_tokens'],
  ['images', 'images'],
  ['latencyP50Ms', 'latency_p50_ms'],
  ['latencyP95Ms', 'latency_p95_ms'],
  ['latencyP99Ms', 'latency_p99_ms'],
];

type Cell = UsageRow[keyof UsageRow];

const csvCell = (v: Cell): string => {
  const s = v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function usageCsv(rows: readonly UsageRow[]): string {
  return [COLUMNS.map(([, h]) => h).join(','), ...rows.map((r) => COLUMNS.map(([k]) => csvCell(r[k])).join(','))].join('\n') + '\n';
}

export function usageJson(rows: readonly UsageRow[], extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...extra, rows: rows.map((r) => Object.fromEntries(COLUMNS.map(([k, h]) => [h, r[k]]))) }, null, 2)}\n`;
}

/** A terminal table with a totals line (latency columns are not totalled). */
export function usageTable(rows: readonly UsageRow[]): string {
  const fmt = (v: Cell | undefined) =>
    v === null || v === undefined ? '-' : typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : v;
  const total: Partial<Record<keyof UsageRow, Cell>> = { day: 'total', team: '', key: '', model: '', latencyP50Ms: '', latencyP95Ms: '', latencyP99Ms: '' };
  for (const [k] of COLUMNS.slice(4, 10)) total[k] = rows.reduce((s, r) => s + (r[k] as number), 0);
  const body = rows.map((r) => COLUMNS.map(([k]) => fmt(r[k])));
  const lines = [COLUMNS.map(([, h]) => h), ...body, COLUMNS.map(([k]) => fmt(total[k]))];
  const widths = COLUMNS.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(lines[0]!), rule, ...body.map(line), rule, line(lines[lines.length - 1]!)].join('\n') + '\n';
}

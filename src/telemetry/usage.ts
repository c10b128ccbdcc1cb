/**
 * Metered usage for the status page and the metrics: calls, errors and tokens per team and model,
 * counted as the meter maps each call (the processor that turns calls into meter records calls
 * {@link MeteredUsage.add}). One accumulator per service (per Prometheus registry); a window of
 * per-minute deltas answers "the last hour" and "the last day".
 */
import type { Counter, Registry } from 'prom-client';
import { instruments, onCollect } from './declare.js';
import { USAGE_METRICS } from './metadata.js';

export interface UsageTotals {
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
}

/** Distinct (team, model) pairs counted apart; further pairs count as team and model `(other)`. */
export const MAX_USAGE_PAIRS = 1000;
const OTHER = '(other)';
const SEP = '\u0000';

const zero = (): UsageTotals => ({ calls: 0, errors: 0, inputTokens: 0, outputTokens: 0 });

export class MeteredUsage {
  /** Totals since start, by `team \0 model`. */
  readonly totals = new Map<string, UsageTotals>();

  /** The last call's pair and totals: calls of a batch often share them (no key built then). */
  private lastTeam: string | null = null;
  private lastModel: string | null = null;
  private lastTotals?: UsageTotals;

  add(team: string | null, model: string | null, error: boolean, inputTokens: number, outputTokens: number): void {
    let t = this.lastTotals !== undefined && team === this.lastTeam && model === this.lastModel ? this.lastTotals : undefined;
    if (!t) {
      let key = `${team || 'unknown'}${SEP}${model || 'unknown'}`;
      t = this.totals.get(key);
      if (!t) {
        if (this.totals.size >= MAX_USAGE_PAIRS) key = `${OTHER}${SEP}${OTHER}`;
        t = this.totals.get(key);
        if (!t) this.totals.set(key, (t = zero()));
      }
      this.lastTeam = team;
      this.lastModel = model;
      this.lastTotals = t;
    }
    t.calls++;
    if (error) t.errors++;
    if (Number.isFinite(inputTokens) && inputTokens > 0) t.inputTokens += inputTokens;
    if (Number.isFinite(outputTokens) && outputTokens > 0) t.outputTokens += outputTokens;
  }
}

const byRegistry = new WeakMap<Registry, MeteredUsage>();

/** The accumulator of a service (its registry); the metrics that read it are registered on first use. */
export function meteredUsage(registry: Registry): MeteredUsage {
  let u = byRegistry.get(registry);
  if (u) return u;
  const usage = (u = new MeteredUsage());
  byRegistry.set(registry, u);
  const m = instruments(registry, USAGE_METRICS);
  // Each counter is set from the totals at scrape time.
  const fill = <L extends string>(c: Counter<L>, values: (team: string, model: string, t: UsageTotals) => [Partial<Record<L, string>>, number][]) =>
    onCollect(c, function () {
      this.reset();
      for (const [key, t] of usage.totals) {
        const [team, model] = key.split(SEP) as [string, string];
        for (const [l, v] of values(team, model, t)) if (v > 0) this.inc(l, v);
      }
    });
  fill(m.calls, (team, model, t) => [[{ team, model }, t.calls]]);
  fill(m.failedCalls, (team, model, t) => [[{ team, model }, t.errors]]);
  fill(m.tokens, (team, model, t) => [
    [{ team, model, direction: 'in' }, t.inputTokens],
    [{ team, model, direction: 'out' }, t.outputTokens],
  ]);
  return u;
}

export interface UsageGroup extends UsageTotals {
  name: string;
}

export interface UsageWindowView {
  /** Window length in minutes, and the minutes it has data for (less right after a start). */
  minutes: number;
  coveredMinutes: number;
  byTeam: UsageGroup[];
  byModel: UsageGroup[];
  total: UsageTotals;
}

export interface UsageSnapshot {
  at: number;
  hour: UsageWindowView;
  day: UsageWindowView;
}

/**
 * Per-minute deltas of a {@link MeteredUsage} for the last day (only the pairs that changed), so a
 * window's usage is the sum of its minutes plus what was counted since the last one.
 */
export class UsageWindow {
  private readonly minutes: { at: number; delta: Map<string, UsageTotals> }[] = [];
  private last = new Map<string, UsageTotals>();
  private timer?: NodeJS.Timeout;
  private readonly startedAt: number;

  constructor(
    private readonly usage: MeteredUsage,
    now = Date.now(),
    readonly keepMinutes = 24 * 60,
  ) {
    this.startedAt = now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Closes the current minute (tests call it with their own clock). */
  tick(now = Date.now()): void {
    this.minutes.push({ at: now, delta: this.sinceLast(true) });
    while (this.minutes.length > this.keepMinutes) this.minutes.shift();
  }

  private sinceLast(advance: boolean): Map<string, UsageTotals> {
    const delta = new Map<string, UsageTotals>();
    for (const [key, t] of this.usage.totals) {
      const p = this.last.get(key);
      if (p && p.calls === t.calls && p.inputTokens === t.inputTokens && p.outputTokens === t.outputTokens && p.errors === t.errors) continue;
      delta.set(key, {
        calls: t.calls - (p?.calls ?? 0),
        errors: t.errors - (p?.errors ?? 0),
        inputTokens: t.inputTokens - (p?.inputTokens ?? 0),
        outputTokens: t.outputTokens - (p?.outputTokens ?? 0),
      });
      if (advance) this.last.set(key, { ...t });
    }
    return delta;
  }

  private view(windowMinutes: number, now: number): UsageWindowView {
    const from = now - windowMinutes * 60_000;
    const sum = new Map<string, UsageTotals>();
    const addAll = (m: Map<string, UsageTotals>) => {
      for (const [k, d] of m) {
        const s = sum.get(k) ?? zero();
        s.calls += d.calls;
        s.errors += d.errors;
        s.inputTokens += d.inputTokens;
        s.outputTokens += d.outputTokens;
        sum.set(k, s);
      }
    };
    // A closed minute counts when it ended inside the window.
    for (const m of this.minutes) if (m.at > from) addAll(m.delta);
    addAll(this.sinceLast(false));
    const group = (i: 0 | 1) => {
      const g = new Map<string, UsageGroup>();
      for (const [k, t] of sum) {
        const name = k.split(SEP)[i]!;
        const e = g.get(name) ?? { name, ...zero() };
        e.calls += t.calls;
        e.errors += t.errors;
        e.inputTokens += t.inputTokens;
        e.outputTokens += t.outputTokens;
        g.set(name, e);
      }
      return [...g.values()].sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || b.calls - a.calls);
    };
    const total = zero();
    for (const t of sum.values()) {
      total.calls += t.calls;
      total.errors += t.errors;
      total.inputTokens += t.inputTokens;
      total.outputTokens += t.outputTokens;
    }
    return {
      minutes: windowMinutes,
      coveredMinutes: Math.min(windowMinutes, Math.ceil((now - this.startedAt) / 60_000)),
      byTeam: group(0),
      byModel: group(1),
      total,
    };
  }

  snapshot(now = Date.now()): UsageSnapshot {
    return { at: now, hour: this.view(60, now), day: this.view(24 * 60, now) };
  }
}

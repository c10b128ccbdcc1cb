/**
 * With `--workers N` the primary serves the admin endpoint for all workers: these functions merge
 * what each worker reports (status, readiness, throughput series, recent errors) into the same
 * shapes a single process serves, and keep each worker's own report under `workers`.
 */
import type { SeriesSnapshot } from './series.js';

/** One worker's answer to the primary (or why there is none). */
export interface WorkerReport {
  index: number;
  pid?: number;
  status?: Record<string, unknown>;
  ready?: boolean;
  detail?: { components?: Record<string, string>; details?: Record<string, unknown> };
  series?: SeriesSnapshot;
  errors?: { time?: string }[];
  /** Set when the worker did not answer. */
  error?: string;
}

const count = (xs: string[]) => {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
};

/** "started" when every worker says so, else "started on 1 of 2 workers, starting on 1". */
function mergeStates(states: string[], workers: number): string {
  const c = count(states);
  if (c.size === 1 && states.length === workers) return states[0]!;
  const parts = [...c].map(([s, n]) => `${s} on ${n} of ${workers} worker${workers === 1 ? '' : 's'}`);
  if (states.length < workers) parts.push(`${workers - states.length} not answering`);
  return parts.join(', ');
}

/** `/status` of the primary: totals over the workers, each worker's own status under `workers`. */
export function aggregateStatus(reports: WorkerReport[], base: { version: string; instanceId: string; workers: number }): Record<string, unknown> {
  const answered = reports.filter((r) => r.status);
  const statuses = answered.map((r) => r.status!);
  const states: Record<string, { state: string; dormant?: string }> = {};
  const keys = new Set(statuses.flatMap((s) => Object.keys((s.states as Record<string, unknown> | undefined) ?? {})));
  for (const k of keys) {
    const per = statuses.map((s) => (s.states as Record<string, { state: string; dormant?: string }>)[k]).filter((x) => x !== undefined);
    states[k] = {
      state: mergeStates(
        per.map((p) => p.state),
        base.workers,
      ),
      ...(per[0]?.dormant ? { dormant: per[0].dormant } : {}),
    };
  }
  const durabilityOff = statuses.some((s) => (s.durability as { enabled?: boolean } | undefined)?.enabled === false);
  const sum = (f: (d: { usedBytes?: number; maxDiskBytes?: number }) => number | undefined) =>
    statuses.reduce((n, s) => n + (f((s.durability as { usedBytes?: number; maxDiskBytes?: number } | undefined) ?? {}) ?? 0), 0);
  const unlimited = statuses.some((s) => !(s.durability as { maxDiskBytes?: number } | undefined)?.maxDiskBytes);
  return {
    version: base.version,
    instanceId: base.instanceId,
    state: mergeStates(
      statuses.map((s) => String(s.state)),
      base.workers,
    ),
    workerCount: base.workers,
    durability: durabilityOff ? { enabled: false } : { usedBytes: sum((d) => d.usedBytes), maxDiskBytes: unlimited ? 0 : sum((d) => d.maxDiskBytes) },
    wal: answered.flatMap((r) => ((r.status!.wal as Record<string, unknown>[] | undefined) ?? []).map((w) => ({ worker: r.index, ...w }))),
    states,
    workers: reports
      .slice()
      .sort((a, b) => a.index - b.index)
      .map((r) =>
        r.status ? { worker: r.index, ...r.status } : { worker: r.index, pid: r.pid ?? null, state: 'not answering', error: r.error ?? 'no answer' },
      ),
  };
}

/** `/health/ready` detail of the primary: each component's state merged over the workers. */
export function aggregateReadyDetail(
  reports: WorkerReport[],
  workers: number,
): { components: Record<string, string>; workers: { worker: number; pid: number | null; ready: boolean }[] } {
  const keys = new Set(reports.flatMap((r) => Object.keys(r.detail?.components ?? {})));
  const components: Record<string, string> = {};
  for (const k of keys)
    components[k] = mergeStates(
      reports.map((r) => r.detail?.components?.[k]).filter((x): x is string => x !== undefined),
      workers,
    );
  return {
    components,
    workers: reports
      .slice()
      .sort((a, b) => a.index - b.index)
      .map((r) => ({ worker: r.index, pid: r.pid ?? null, ready: r.ready === true })),
  };
}

/**
 * Throughput of all workers: each series summed sample by sample. Workers sample on the same
 * interval but not at the same instants, so samples are aligned from the most recent one.
 */
export function aggregateSeries(snaps: SeriesSnapshot[]): SeriesSnapshot {
  const longest = snaps.reduce<SeriesSnapshot | undefined>((a, s) => (!a || s.t.length > a.t.length ? s : a), undefined);
  if (!longest) return { intervalMs: 0, t: [], series: {} };
  const len = longest.t.length;
  const series: SeriesSnapshot['series'] = {};
  for (const s of snaps) {
    const offset = len - s.t.length;
    for (const [name, v] of Object.entries(s.series)) {
      const out = (series[name] ??= { kind: v.kind, values: new Array<number | null>(len).fill(null) });
      v.values.forEach((x, i) => {
        if (x == null) return;
        out.values[offset + i] = (out.values[offset + i] ?? 0) + x;
      });
    }
  }
  return { intervalMs: longest.intervalMs, t: [...longest.t], series };
}

/** The last warnings and errors of every worker, oldest first, each with its worker. */
export function aggregateErrors(reports: WorkerReport[], max = 50): Record<string, unknown>[] {
  return reports
    .flatMap((r) => (r.errors ?? []).map((e) => ({ ...e, worker: r.index })))
    .sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''))
    .slice(-max);
}

/**
 * Recent throughput for the status page: samples the service's own counters every few seconds
 * and keeps a short ring of per-second rates per component (5 minutes by default).
 */
import type { Registry } from 'prom-client';

interface Family {
  name: string;
  type: string;
  values: { value: number; labels: Record<string, string | number> }[];
}

/** Which counters become series, and how each series is named from its labels. */
const SOURCES: { metric: string; name: (l: Record<string, string | number>) => string; kind: 'rate' | 'level' }[] = [
  { metric: 'spanmeter_receiver_accepted_spans_total', name: (l) => `receiver ${l.receiver} accepted/s`, kind: 'rate' },
  { metric: 'spanmeter_receiver_refused_spans_total', name: (l) => `receiver ${l.receiver} refused/s`, kind: 'rate' },
  { metric: 'spanmeter_processor_outgoing_items_total', name: (l) => `${l.pipeline}/${l.processor} out/s`, kind: 'rate' },
  { metric: 'spanmeter_exporter_sent_records_total', name: (l) => `exporter ${l.exporter} sent/s`, kind: 'rate' },
  { metric: 'spanmeter_exporter_send_failed_records_total', name: (l) => `exporter ${l.exporter} failed/s`, kind: 'rate' },
  { metric: 'spanmeter_wal_backlog_records', name: (l) => `${l.pipeline} log backlog`, kind: 'level' },
];

export interface SeriesSnapshot {
  intervalMs: number;
  /** Sample times, epoch ms. */
  t: number[];
  series: Record<string, { kind: 'rate' | 'level'; values: (number | null)[] }>;
}

export class SeriesRecorder {
  private readonly t: number[] = [];
  private readonly series = new Map<string, { kind: 'rate' | 'level'; values: (number | null)[] }>();
  private last = new Map<string, { value: number; at: number }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly registry: Registry,
    readonly intervalMs = 1_000,
    readonly samples = 300,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now (also used by tests). */
  async sample(now = Date.now()): Promise<void> {
    // Only the few families the chart shows: collecting every metric (process metrics read /proc)
    // every few seconds costs idle CPU.
    const byName = new Map<string, Family>();
    for (const src of SOURCES) {
      const m = this.registry.getSingleMetric(src.metric);
      if (m) byName.set(src.metric, (await m.get()) as unknown as Family);
    }
    const current = new Map<string, { value: number; kind: 'rate' | 'level' }>();
    for (const src of SOURCES) {
      const f = byName.get(src.metric);
      if (!f) continue;
      for (const v of f.values) {
        const name = src.name(v.labels);
        const prev = current.get(name);
        current.set(name, { value: (prev?.value ?? 0) + v.value, kind: src.kind });
      }
    }
    this.t.push(now);
    const index = this.t.length - 1;
    for (const [name, { value, kind }] of current) {
      let s = this.series.get(name);
      if (!s) {
        s = { kind, values: new Array<number | null>(index).fill(null) };
        this.series.set(name, s);
      }
      if (kind === 'level') s.values.push(value);
      else {
        // A counter first seen now started from 0 after the previous sample (its labels did not exist
        // then), so traffic in the first seconds shows as soon as there are two samples.
        const prev = this.last.get(name) ?? (index > 0 ? { value: 0, at: this.t[index - 1]! } : undefined);
        s.values.push(prev && now > prev.at ? Math.max(0, ((value - prev.value) * 1000) / (now - prev.at)) : null);
        this.last.set(name, { value, at: now });
      }
    }
    for (const [name, s] of this.series) if (!current.has(name)) s.values.push(null);
    if (this.t.length > this.samples) {
      this.t.shift();
      for (const s of this.series.values()) s.values.shift();
    }
  }

  snapshot(): SeriesSnapshot {
    return {
      intervalMs: this.intervalMs,
      t: [...this.t],
      series: Object.fromEntries([...this.series].map(([k, v]) => [k, { kind: v.kind, values: [...v.values] }])),
    };
  }
}

/**
 * The status in plain words, for `spanmeter status` and the status page: what waits in the open
 * batch and when the next file is cut, the last object written, and how far delivery lags.
 * Computed where the status is taken (each worker), from the components' own status objects.
 */

/** "850 ms", "42 s", "4 min 40 s", "2 h 5 min". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** "512 B", "3.4 KiB", "1.2 MiB". */
export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const hhmmss = (iso: string) => `${iso.slice(11, 19)} UTC`;

export interface ComponentWords {
  /** The component's state in words: "started", or why it is dormant. */
  state?: string;
  /** A batch processor's open batch and when it is cut. */
  openBatch?: string;
  /** An exporter's last object written. */
  lastObject?: string;
  /** An exporter's delivery backlog and lag. */
  delivery?: string;
  /** A span processor's calls by the layout they were read from. */
  calls?: string;
  /** A span processor's spans that looked like LLM calls and could not be billed. */
  unbillable?: string;
}

interface OpenBatch {
  records: number;
  bytes: number;
  openedAt: string | null;
  cutAt: string | null;
  cutAtRecords: number;
}

/** Plain words for one component's status object (`undefined` fields: nothing to say). */
export function componentWords(s: Record<string, unknown>, state: { state: string; dormant?: string } | undefined, now: number): ComponentWords {
  const out: ComponentWords = {};
  if (state) out.state = state.dormant ?? state.state;
  const ob = s.openBatch as OpenBatch | undefined;
  if (ob) {
    const waiting = Number(s.waitingRecords ?? 0);
    const cutBy = `at ${plural(ob.cutAtRecords, 'record')}`;
    if (ob.records === 0)
      out.openBatch = `empty: the next file starts with the next record and is cut ${cutBy}${ob.cutAt === null ? '' : ' or when the timeout runs out'}`;
    else {
      const when = ob.cutAt === null ? '' : ` or at ${hhmmss(ob.cutAt)} (in ${duration(Date.parse(ob.cutAt) - now)})`;
      out.openBatch = `${plural(ob.records, 'record')} (${size(ob.bytes)}) in the open batch, the first for ${duration(now - Date.parse(ob.openedAt ?? new Date(now).toISOString()))}; it is cut ${cutBy}${when}`;
    }
    if (waiting > 0) out.openBatch += `; ${plural(waiting, 'record')} cut and waiting for the exporters`;
  }
  const layouts = s.layouts as Record<string, number> | undefined;
  if (layouts && typeof s.calls === 'number') {
    const parts = Object.entries(layouts)
      .sort((a, b) => b[1] - a[1])
      .map(([l, n]) => `${l} ${n.toLocaleString('en-US')}`);
    out.calls = `${plural(s.calls, 'LLM call')}${parts.length ? ` (${parts.join(', ')})` : ''} from ${plural(Number(s.spans ?? 0), 'span')}; ${plural(Number(s.duplicates ?? 0), 'duplicate')} dropped`;
  }
  const unbillable = s.unbillable as Record<string, { count: number; last: { at: string; span: string; detail: string } | null }> | undefined;
  if (unbillable) {
    const entries = Object.entries(unbillable);
    const total = entries.reduce((n, [, u]) => n + u.count, 0);
    out.unbillable =
      total === 0
        ? 'none: every span that looked like an LLM call was billed'
        : `${plural(total, 'span')} not billed: ${entries.map(([r, u]) => `${r} ${u.count}${u.last ? ` (last at ${hhmmss(u.last.at)}: span "${u.last.span}", ${u.last.detail})` : ''}`).join('; ')}`;
  }
  if ('lastObject' in s || 'queuedRecords' in s) {
    const lo = s.lastObject as { key: string; destination?: string; records: number; bytes: number; at: string } | null | undefined;
    out.lastObject = lo
      ? `${lo.key} (${plural(lo.records, 'record')}, ${size(lo.bytes)}) at ${hhmmss(lo.at)}, ${duration(now - Date.parse(lo.at))} ago`
      : 'none yet since start';
    const objects = Number(s.spoolObjects ?? 0);
    const spooled = Number(s.spoolRecords ?? 0);
    const queued = Number(s.queuedRecords ?? 0);
    const oldest = typeof s.oldestUnsent === 'string' ? Date.parse(s.oldestUnsent) : NaN;
    if (objects > 0)
      out.delivery = `${plural(objects, 'object')} (${plural(spooled, 'record')}) waiting to be sent${Number.isFinite(oldest) ? `; the oldest for ${duration(now - oldest)}` : ''}`;
    else if (queued > 0) out.delivery = `${plural(queued, 'record')} being sent now`;
    else out.delivery = 'everything handed to it is delivered';
  }
  return out;
}

/** Words for every component of a (single process's) status. */
export function statusWords(status: Record<string, unknown>, now = Date.now()): Record<string, ComponentWords> {
  const states = (status.states as Record<string, { state: string; dormant?: string }> | undefined) ?? {};
  const comps = (status.components as Record<string, Record<string, unknown>> | undefined) ?? {};
  const out: Record<string, ComponentWords> = {};
  const rank = (k: string) => ['receiver', 'processor', 'exporter'].indexOf(k.slice(0, k.indexOf(':')));
  const keys = [...new Set([...Object.keys(states), ...Object.keys(comps)])].map((k, i) => ({ k, i })).sort((a, b) => rank(a.k) - rank(b.k) || a.i - b.i);
  for (const { k: key } of keys) {
    if (key.endsWith('/wal')) continue;
    const w = componentWords(comps[key] ?? {}, states[key], now);
    if (Object.keys(w).length) out[key] = w;
  }
  return out;
}

/**
 * The operations of the `transform` processor on meter records: set, rename and delete
 * dimensions. Values are literal strings that may reference other fields of the same record with
 * `{{path}}` (`meterApiName`, `meterValue`, `meterTimeInMillis`, `uniqueId`, `customerId`,
 * `dimensions.<key>`), or copies of one field (`from: path`). Not a language: no expressions.
 */
import type { MeterRecord } from '../../src/data/meter-record.js';
import type { Operation } from './config.js';

export const FIELDS = ['meterApiName', 'meterValue', 'meterTimeInMillis', 'uniqueId', 'customerId'] as const;
const PATH_RE = /^(meterApiName|meterValue|meterTimeInMillis|uniqueId|customerId|dimensions\.[^\s{}]+)$/;
const REF_RE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Problems with a path, or null when valid. */
export function checkPath(p: string): string | null {
  return PATH_RE.test(p) ? null : `"${p}" is not a record field (use ${FIELDS.join(', ')} or dimensions.<key>)`;
}

/** Value of a path in a record, as a string (numbers in decimal), or null when absent. */
export function lookup(r: MeterRecord, path: string): string | null {
  if (path.startsWith('dimensions.')) return r.dimensions?.[path.slice(11)] ?? null;
  const v = (r as unknown as Record<string, unknown>)[path];
  // Record fields are strings or numbers; anything else is absent.
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' ? v : null;
}

/** The keys each kind of operation may have. */
const KEYS = {
  set: ['set', 'value', 'from', 'if_missing', 'meters'],
  rename: ['rename', 'to', 'meters'],
  delete: ['delete', 'meters'],
} as const;
const KINDS = Object.keys(KEYS) as (keyof typeof KEYS)[];

/** Checks one operation; returns messages keyed by sub-path ('' for the operation itself). */
export function checkOperation(op: Operation): { path: string; message: string }[] {
  const kinds = KINDS.filter((k) => op[k] !== undefined);
  if (kinds.length !== 1) {
    const message = kinds.length ? `has ${kinds.join(' and ')}: write each operation as its own item` : `needs one of ${KINDS.join(', ')}`;
    return [{ path: '', message }];
  }
  const kind = kinds[0]!;
  const allowed: readonly string[] = KEYS[kind];
  const out: { path: string; message: string }[] = [];
  for (const [k, v] of Object.entries(op)) {
    // if_missing is always there (default false): only a true one outside set is a mistake.
    if (allowed.includes(k) || (k === 'if_missing' && v === false)) continue;
    out.push({ path: k, message: `is not a key of a ${kind} operation (its keys: ${allowed.join(', ')})` });
  }
  if (kind === 'rename' && op.to === undefined) out.push({ path: 'to', message: 'is required with rename' });
  if (kind === 'set') {
    if ((op.value === undefined) === (op.from === undefined)) out.push({ path: '', message: 'set needs exactly one of value or from' });
    if (op.from !== undefined) {
      const e = checkPath(op.from);
      if (e) out.push({ path: 'from', message: e });
    }
    if (op.value !== undefined) {
      for (const m of op.value.matchAll(REF_RE)) {
        const e = checkPath(m[1]!); // the pattern's one group is not optional
        if (e) out.push({ path: 'value', message: `{{${m[1]}}}: ${e}` });
      }
      const stripped = op.value.replace(REF_RE, '');
      if (stripped.includes('{{') || stripped.includes('}}')) out.push({ path: 'value', message: 'unbalanced {{ }} in value' });
    }
  }
  return out;
}

function render(template: string, r: MeterRecord): string {
  return template.replace(REF_RE, (_m, p: string) => lookup(r, p) ?? '');
}

/** Applies the operations in order to a copy of the record (the input is not modified). */
export function apply(ops: readonly Operation[], r: MeterRecord): MeterRecord {
  let dims: Record<string, string | null> | undefined;
  const out: MeterRecord = { ...r };
  const mutable = (): Record<string, string | null> => (dims ??= out.dimensions = { ...(r.dimensions ?? {}) });
  for (const op of ops) {
    if (op.meters && !op.meters.includes(out.meterApiName)) continue;
    if (op.set !== undefined) {
      const cur = out.dimensions?.[op.set];
      if (op.if_missing && cur !== undefined && cur !== null && cur !== '') continue;
      const v = op.from !== undefined ? lookup(out, op.from) : render(op.value ?? '', out);
      mutable()[op.set] = v;
    } else if (op.rename !== undefined && op.to !== undefined) {
      if (!out.dimensions || !(op.rename in out.dimensions)) continue;
      const d = mutable();
      const v = d[op.rename] ?? null;
      // `d` is this function's own copy of the dimensions, changed in place and sorted below.
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      delete d[op.rename];
      d[op.to] = v;
    } else if (op.delete !== undefined) {
      const keys = Array.isArray(op.delete) ? op.delete : [op.delete];
      if (!out.dimensions || !keys.some((k) => k in out.dimensions!)) continue;
      const d = mutable();
      // `d` is this function's own copy of the dimensions, changed in place and sorted below.
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      for (const k of keys) delete d[k];
    }
  }
  if (dims) {
    // Keep the deterministic (sorted) dimension order the amberflo processor established.
    const sorted: Record<string, string | null> = {};
    for (const k of Object.keys(dims).sort()) sorted[k] = dims[k] ?? null;
    out.dimensions = sorted;
  }
  return out;
}

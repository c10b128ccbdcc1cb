/**
 * The operations of the `transform` processor on meter records: set, rename and delete
 * dimensions. Values are literal strings that may reference other fields of the same record with
 * `{{path}}` (`meterApiName`, `meterValue`, `meterTimeInMillis`, `uniqueId`, `customerId`,
 * `dimensions.<key>`), or copies of one field (`from: path`). Not a language: no expressions.
 */
import type { MeterRecord } from '../../src/data/meter-record.js';

export interface SetOp {
  set: string;
  value?: string;
  from?: string;
  /** Only when the dimension is absent, null or empty. */
  if_missing?: boolean;
  meters?: string[];
}
export interface RenameOp {
  rename: string;
  to: string;
  meters?: string[];
}
export interface DeleteOp {
  delete: string | string[];
  meters?: string[];
}
export type Operation = SetOp | RenameOp | DeleteOp;

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
  if (v === undefined || v === null) return null;
  return String(v);
}

/** Checks one operation; returns messages keyed by sub-path ('' for the operation itself). */
export function checkOperation(op: Operation): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if ('set' in op) {
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
    if ('set' in op) {
      const cur = out.dimensions?.[op.set];
      if (op.if_missing && cur !== undefined && cur !== null && cur !== '') continue;
      const v = op.from !== undefined ? lookup(out, op.from) : render(op.value ?? '', out);
      mutable()[op.set] = v;
    } else if ('rename' in op) {
      if (!out.dimensions || !(op.rename in out.dimensions)) continue;
      const d = mutable();
      const v = d[op.rename] ?? null;
      delete d[op.rename];
      d[op.to] = v;
    } else {
      const keys = Array.isArray(op.delete) ? op.delete : [op.delete];
      if (!out.dimensions || !keys.some((k) => k in out.dimensions!)) continue;
      const d = mutable();
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

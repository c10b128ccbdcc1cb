/**
 * The one ajv instance used to validate component configs, with spanmeter's formats and
 * human-readable messages (file and line are added by the caller).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isDuration } from './duration.js';
import type { Path } from './yaml-source.js';
import { isSecretKey, redactText } from '../telemetry/redact.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: false });
ajv.addFormat('duration', { type: 'string', validate: isDuration });
ajv.addFormat('host-port', { type: 'string', validate: (s: string) => /^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$/.test(s) });
ajv.addFormat('byte-size', { type: 'string', validate: (s: string) => /^\d+(\.\d+)?\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.test(s) });

const cache = new WeakMap<object, ValidateFunction>();

export function compileSchema(schema: object): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    cache.set(schema, v);
  }
  return v;
}

export interface SchemaProblem {
  path: Path;
  message: string;
}

/** Validates `value`; returns problems with paths relative to `value`. */
export function validateAgainst(schema: object, value: unknown): SchemaProblem[] {
  const validate = compileSchema(schema);
  if (validate(value)) return [];
  return dedupe((validate.errors ?? []).map(describe));
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(e: ErrorObject): SchemaProblem {
  const path = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = suggest(key, known);
      return {
        path: [...path, key],
        message: `unknown key${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : ''}`,
      };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required' };
    case 'format':
      if (p.format === 'duration') return { path, message: `must be a duration like "5s", "300ms" or "1m30s", not ${JSON.stringify(e.data)}` };
      if (p.format === 'host-port') return { path, message: 'must be an address like "127.0.0.1:4318"' };
      if (p.format === 'byte-size') return { path, message: 'must be a size like "20MiB" or a number of bytes' };
      return { path, message: `must be a valid ${String(p.format)}` };
    case 'enum':
      return { path, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'type':
      return { path, message: `must be ${Array.isArray(p.type) ? (p.type as string[]).join(' or ') : String(p.type)}, not ${typeName(e.data, path)}` };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
}

/** The kind of a wrong value; a string is shown only when short and not under a secret-named key (it may be a secret in the wrong place). */
function typeName(v: unknown, path: Path): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string' && (v.length > 24 || path.some((k) => typeof k === 'string' && isSecretKey(k)) || redactText(v) !== v))
    return `a string of ${v.length} characters`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

function dedupe(ps: SchemaProblem[]): SchemaProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = JSON.stringify(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The closest known name within a small edit distance, for "did you mean". */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Conditions of the `filter` processor: `<field> <op> <value>`, one comparison per string.
 * Fields: meterApiName, meterValue, meterTimeInMillis, uniqueId, customerId, dimensions.<key>.
 * Ops: == != (JSON value: "text", 12, null, true), in / not in (JSON array), =~ !~ (a JSON
 * string holding a regular expression), < <= > >= (numbers). Not a language: no and/or/().
 */
import type { MeterRecord } from '../../src/data/meter-record.js';

export type Predicate = (r: MeterRecord) => boolean;

const COND_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[^\s=!<>~]+)?)\s*(==|!=|=~|!~|<=|>=|<|>|not\s+in\b|in\b)\s*(.*?)\s*$/;
const FIELD_RE = /^(meterApiName|meterValue|meterTimeInMillis|uniqueId|customerId|dimensions\.[^\s]+)$/;

export class ConditionError extends Error {}

function field(r: MeterRecord, path: string): unknown {
  if (path.startsWith('dimensions.')) {
    const d = r.dimensions;
    const k = path.slice(11);
    return d && Object.prototype.hasOwnProperty.call(d, k) ? d[k] : undefined;
  }
  return (r as unknown as Record<string, unknown>)[path];
}

const norm = (v: unknown) => (v === undefined ? null : v);

/** Parses a condition; throws {@link ConditionError} with a message meant for the user. */
export function parseCondition(text: string): Predicate {
  const m = COND_RE.exec(text);
  if (!m) throw new ConditionError(`cannot read condition ${JSON.stringify(text)}: write <field> <op> <value>, e.g. meterApiName == "llm_api_call_ms"`);
  // The three groups are not optional: a match has them all.
  const [path, rawOp, rawValue] = [m[1]!, m[2]!, m[3]!];
  const op = rawOp.replace(/\s+/g, ' ');
  if (!FIELD_RE.test(path))
    throw new ConditionError(`unknown field "${path}" (use meterApiName, meterValue, meterTimeInMillis, uniqueId, customerId or dimensions.<key>)`);
  if (rawValue === '') throw new ConditionError(`missing value after "${op}"`);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    throw new ConditionError(`value ${rawValue} is not a JSON value; quote strings: ${path} ${op} ${JSON.stringify(rawValue)}`);
  }
  const get = (r: MeterRecord) => norm(field(r, path));
  switch (op) {
    case '==':
    case '!=': {
      if (value !== null && typeof value === 'object') throw new ConditionError(`${op} compares with a string, number, boolean or null`);
      const eq = (r: MeterRecord) => {
        const v = get(r);
        return v === value || (typeof value === 'number' && typeof v === 'string' && v !== '' && Number(v) === value);
      };
      return op === '==' ? eq : (r) => !eq(r);
    }
    case 'in':
    case 'not in': {
      if (!Array.isArray(value)) throw new ConditionError(`${op} needs a JSON array, e.g. ${path} ${op} ["a", "b"]`);
      const set = new Set(value as unknown[]);
      return op === 'in' ? (r) => set.has(get(r)) : (r) => !set.has(get(r));
    }
    case '=~':
    case '!~': {
      if (typeof value !== 'string') throw new ConditionError(`${op} needs a regular expression in a JSON string, e.g. ${path} ${op} "^llm_"`);
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (e) {
        throw new ConditionError(`bad regular expression: ${(e as Error).message}`);
      }
      const test = (r: MeterRecord) => {
        const v = get(r);
        // Record fields are strings or numbers (dimension values strings or null).
        return (typeof v === 'string' || typeof v === 'number') && re.test(String(v));
      };
      return op === '=~' ? test : (r) => !test(r);
    }
    default: {
      if (typeof value !== 'number') throw new ConditionError(`${op} compares numbers, e.g. meterValue ${op} 0`);
      const num = (r: MeterRecord): number | null => {
        const v = get(r);
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        return Number.isNaN(n) ? null : n;
      };
      const cmp: Record<string, (a: number) => boolean> = { '<': (a) => a < value, '<=': (a) => a <= value, '>': (a) => a > value, '>=': (a) => a >= value };
      const f = cmp[op];
      if (f === undefined) throw new ConditionError(`unknown operator "${op}"`);
      return (r) => {
        const n = num(r);
        return n !== null && f(n);
      };
    }
  }
}

/** The message of a condition that cannot be read, or null when it parses. */
export function conditionProblem(text: string): string | null {
  try {
    parseCondition(text);
    return null;
  } catch (e) {
    if (e instanceof ConditionError) return e.message;
    throw e;
  }
}

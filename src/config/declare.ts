/**
 * One declaration per component config. A component declares its config once, with TypeBox: the
 * JSON Schema that ajv checks, each key's default and description, and the TypeScript type its code
 * receives all come from that one declaration, and so do the README key tables and
 * `spanmeter components`.
 *
 * Durations ("5s") and byte sizes ("20MiB") are written as strings in pipeline.yaml and reach the
 * component as numbers (milliseconds, bytes): {@link Duration} and {@link ByteSize} mark them, and
 * {@link resolveDeclared} converts them after validation, so no component parses them itself.
 */
import { Type, type Static, type TProperties, type TSchema, type TUnsafe } from 'typebox';
import { parseDuration } from './duration.js';
import { parseByteSize } from './size.js';

export { Type, type Static, type TSchema };

/** Schema keyword naming the conversion applied after validation. */
export const CONVERT = 'x-convert';
/** Schema keyword of a section whose empty (null) value means "all defaults". */
export const NULL_IS_DEFAULT = 'x-null-is-default';

type Doc = { description: string };

/** A duration written like "5s", "300ms" or "1m30s"; the component receives milliseconds. */
export function Duration(opts: Doc & { default?: string }): TUnsafe<number> {
  return Type.Unsafe<number>({ type: 'string', format: 'duration', [CONVERT]: 'duration', ...opts });
}

/** A size written as a number of bytes or like "20MiB"; the component receives bytes. */
export function ByteSize(opts: Doc & { default?: string | number; minimum?: number }): TUnsafe<number> {
  const { minimum = 0, ...rest } = opts;
  return Type.Unsafe<number>({
    anyOf: [
      { type: 'integer', minimum },
      { type: 'string', format: 'byte-size' },
    ],
    [CONVERT]: 'bytes',
    ...rest,
  });
}

/** A map of keys with no others allowed (unknown keys are reported with "did you mean"). */
export function Settings<P extends TProperties>(properties: P, opts: Doc) {
  return Type.Object(properties, { additionalProperties: false, ...opts });
}

/**
 * A nested block whose keys all have defaults: present in the component's config even when the
 * user leaves it out or writes it empty (`http:`), with the user's keys on top of the defaults.
 */
export function Section<P extends TProperties>(properties: P, opts: Doc) {
  const object = Type.Object(properties, { additionalProperties: false });
  return Type.Unsafe<Static<typeof object>>({
    anyOf: [{ type: 'null' }, object],
    default: {},
    [NULL_IS_DEFAULT]: true,
    ...opts,
  });
}

/** A value that may be left out or written empty (null); both reach the component as null. */
export function Nullable<T extends TSchema>(schema: T, opts: Doc) {
  return Type.Unsafe<Static<T> | null>({ anyOf: [{ type: 'null' }, schema], default: null, ...opts });
}

export type JsonObject = Record<string, unknown>;
type Json = JsonObject;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function accepts(schema: Json, v: unknown): boolean {
  const t = schema.type;
  const kind = jsonType(v);
  const types = Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : undefined;
  if (types) return types.includes(kind) || (kind === 'integer' && types.includes('number'));
  if ('const' in schema) return schema.const === v;
  if (Array.isArray(schema.enum)) return schema.enum.includes(v);
  if (schema.properties) return kind === 'object';
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Json[]).some((s) => accepts(s, v));
  return true;
}

/** The branch of an `anyOf` that describes `v` (by JSON type), or undefined. */
function branchFor(schema: Json, v: unknown): Json | undefined {
  return Array.isArray(schema.anyOf) ? (schema.anyOf as Json[]).find((s) => accepts(s, v)) : undefined;
}

/** `value` with every missing key that has a default filled in (a new value; the input is not changed). */
export function withDefaults(schema: TSchema | Json, value: unknown): unknown {
  const s = schema as Json;
  let v = value;
  if (v === undefined && 'default' in s) v = structuredClone(s.default);
  if (v === null && s[NULL_IS_DEFAULT] === true) v = {};
  if (v === undefined) return v;
  const branch = branchFor(s, v);
  if (branch) return withDefaults(branch, v);
  if (isObject(v) && (isObject(s.properties) || isObject(s.additionalProperties))) {
    const out: JsonObject = { ...v };
    const props = (s.properties ?? {}) as Record<string, Json>;
    for (const [k, ps] of Object.entries(props)) {
      const filled = withDefaults(ps, out[k]);
      if (filled !== undefined) out[k] = filled;
    }
    if (isObject(s.additionalProperties)) {
      for (const k of Object.keys(out)) if (!(k in props)) out[k] = withDefaults(s.additionalProperties, out[k]);
    }
    return out;
  }
  if (Array.isArray(v) && isObject(s.items)) return v.map((x) => withDefaults(s.items as Json, x));
  return v;
}

/** `value` (already valid) with durations in milliseconds and sizes in bytes. */
export function converted(schema: TSchema | Json, value: unknown): unknown {
  const s = schema as Json;
  if (value === null || value === undefined) return value;
  if (s[CONVERT] === 'duration' && typeof value === 'string') return parseDuration(value);
  if (s[CONVERT] === 'bytes' && (typeof value === 'string' || typeof value === 'number')) return parseByteSize(value);
  const branch = branchFor(s, value);
  if (branch) return converted(branch, value);
  if (isObject(value) && (isObject(s.properties) || isObject(s.additionalProperties))) {
    const out: JsonObject = {};
    const props = (s.properties ?? {}) as Record<string, Json>;
    for (const [k, x] of Object.entries(value)) {
      const ps = props[k] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
      out[k] = ps ? converted(ps, x) : x;
    }
    return out;
  }
  if (Array.isArray(value) && isObject(s.items)) return value.map((x) => converted(s.items as Json, x));
  return value;
}

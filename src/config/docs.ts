/**
 * Documentation generated from config declarations: the key table of a component's README and the
 * key list of `spanmeter components`.
 */
import { CONVERT, NULL_IS_DEFAULT } from './declare.js';

type Json = Record<string, unknown>;

export interface KeyRow {
  /** Dotted path, `[]` for the items of a list. */
  key: string;
  type: string;
  /** The default as written in pipeline.yaml, or undefined when there is none. */
  default?: string;
  required: boolean;
  description: string;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object schema inside `s` (itself, or the object branch of a nullable section), if any. */
function objectOf(s: Json): Json | undefined {
  if (isObject(s.properties)) return s;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).find((b) => isObject(b.properties));
  return undefined;
}

function typeOf(s: Json): string {
  if (s[CONVERT] === 'duration') return 'duration';
  if (s[CONVERT] === 'bytes') return 'size';
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (Array.isArray(s.anyOf)) {
    const parts = (s.anyOf as Json[]).filter((b) => b.type !== 'null').map(typeOf);
    return [...new Set(parts)].join(' | ') || 'null';
  }
  const t = Array.isArray(s.type) ? (s.type as string[]).filter((x) => x !== 'null') : [s.type as string | undefined];
  return t
    .map((x) => {
      if (x === 'array') return `list of ${isObject(s.items) ? typeOf(s.items) : 'any'}`;
      if (x === 'object') return isObject(s.properties) ? 'map' : isObject(s.additionalProperties) ? `map of ${typeOf(s.additionalProperties)}` : 'map';
      return x ?? 'any';
    })
    .join(' | ');
}

function defaultOf(s: Json): string | undefined {
  if (!('default' in s)) return undefined;
  const d = s.default;
  if (d === null) return s[NULL_IS_DEFAULT] ? undefined : 'null';
  if (isObject(d) && Object.keys(d).length === 0 && objectOf(s)) return undefined;
  return typeof d === 'string' ? d : JSON.stringify(d);
}

/** Every key of a declared config, flattened to dotted paths. */
export function configKeys(schema: object, prefix = ''): KeyRow[] {
  const obj = objectOf(schema as Json);
  if (!obj) return [];
  const required = new Set(Array.isArray(obj.required) ? (obj.required as string[]) : []);
  const rows: KeyRow[] = [];
  for (const [k, s] of Object.entries(obj.properties as Record<string, Json>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const nested = objectOf(s);
    const dflt = defaultOf(s);
    rows.push({
      key,
      type: nested ? 'map' : typeOf(s),
      ...(dflt !== undefined ? { default: dflt } : {}),
      required: required.has(k) && !('default' in s),
      description: typeof s.description === 'string' ? s.description : '',
    });
    if (nested) rows.push(...configKeys(nested, key));
    else if (isObject(s.items) && objectOf(s.items)) rows.push(...configKeys(s.items, `${key}[]`));
  }
  return rows;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');

/** The Markdown table of a config's keys (the README block between the config-table markers). */
export function configTable(schema: object): string {
  const rows = configKeys(schema);
  const lines = ['| key | type | default | meaning |', '|---|---|---|---|'];
  for (const r of rows) {
    const dflt = r.default !== undefined ? `\`${cell(r.default)}\`` : r.required ? '(required)' : '';
    lines.push(`| \`${r.key}\` | ${cell(r.type)} | ${dflt} | ${cell(r.description)} |`);
  }
  return lines.join('\n');
}

export const TABLE_BEGIN = '<!-- generated: config keys (npm run docs) -->';
export const TABLE_END = '<!-- end of generated config keys -->';

/** `readme` with its generated block replaced by `table`; undefined when it has no markers. */
export function withTable(readme: string, table: string): string | undefined {
  const i = readme.indexOf(TABLE_BEGIN);
  const j = readme.indexOf(TABLE_END);
  if (i < 0 || j < i) return undefined;
  return `${readme.slice(0, i + TABLE_BEGIN.length)}\n${table}\n${readme.slice(j)}`;
}

/**
 * Reads pipeline.yaml files into plain values while remembering where every key came from
 * (file and line), expands `${env:VAR}` / `${env:VAR:-default}`, and merges several files.
 */
import { redactText } from '../telemetry/redact.js';
import { readFileSync } from 'node:fs';
import { isDuration } from './duration.js';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parse as parseYaml, parseDocument, Scalar, type Node } from 'yaml';

export type Path = readonly (string | number)[];

export interface Loc {
  file: string;
  line: number;
}

export interface ConfigError {
  file?: string;
  line?: number;
  /** Dotted key path, e.g. `processors.batch.timeout`. */
  path: string;
  message: string;
}

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

export function formatError(e: ConfigError): string {
  const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ''} ` : '';
  return `${where}${e.path ? `${e.path}: ` : ''}${redactText(e.message)}`;
}

/** Where each path of the merged config was written. */
export class SourceMap {
  private readonly locs = new Map<string, Loc>();
  private static key(path: Path): string {
    return path.map(String).join('\u0000');
  }
  set(path: Path, loc: Loc): void {
    this.locs.set(SourceMap.key(path), loc);
  }
  /** The location of `path`, or of its nearest ancestor written in a file. */
  find(path: Path): Loc | undefined {
    for (let n = path.length; n >= 0; n--) {
      const loc = this.locs.get(SourceMap.key(path.slice(0, n)));
      if (loc) return loc;
    }
    return undefined;
  }
  error(path: Path, message: string): ConfigError {
    const loc = this.find(path);
    return { file: loc?.file, line: loc?.line, path: formatPath(path), message };
  }
}

const ENV_REF = /\$\$|\$\{(?:env:)?([^}:]*)(?::-([^}]*))?\}/g;
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A scalar that is one reference followed by a duration unit: `${env:FLUSH_INTERVAL:-300}s`. */
const ENV_DURATION = /^\$\{(?:env:)?([^}:]*)(?::-([^}]*))?\}(ns|us|µs|ms|s|m|h)$/;
const NUMBER = /^\d+(?:\.\d+)?$/;

/**
 * `${env:VAR}s` (any duration unit after one reference): the variable holds a number in that unit,
 * as environment files of other tools often give seconds, or a duration of its own ("5m",
 * "90s"), which is taken as it is. Anything else is an error naming the variable and its value.
 */
function expandEnvDuration(m: RegExpExecArray, env: NodeJS.ProcessEnv): { value: unknown; problems: string[] } {
  const n = (m[1] ?? '').trim();
  const unit = m[3]!;
  if (!ENV_NAME.test(n)) return { value: m[0], problems: [`"${m[0]}" is not a valid environment reference (use \${env:NAME} or \${env:NAME:-default})`] };
  const set = env[n] !== undefined && env[n] !== '';
  const raw = set ? env[n]! : m[2];
  if (raw === undefined) return { value: '', problems: [`environment variable ${n} is not set and has no default (write \${env:${n}:-default})`] };
  const v = raw.trim();
  if (NUMBER.test(v)) return { value: `${v}${unit}`, problems: [] };
  if (isDuration(v)) return { value: v, problems: [] };
  const source = set ? `environment variable ${n}` : `the default of ${n}`;
  return { value: raw, problems: [`${source} is "${raw}": write a number (of ${UNIT_WORDS[unit] ?? unit}, e.g. "300") or a duration (e.g. "5m", "90s")`] };
}

const UNIT_WORDS: Record<string, string> = {
  ns: 'nanoseconds',
  us: 'microseconds',
  µs: 'microseconds',
  ms: 'milliseconds',
  s: 'seconds',
  m: 'minutes',
  h: 'hours',
};

/**
 * Expands env references in one scalar. Returns the new value and any problems.
 * A plain (unquoted) scalar that is exactly one reference takes the YAML type of the value
 * (`${env:BATCH_SIZE:-100}` is the number 100); otherwise the result is a string.
 */
export function expandEnv(raw: string, env: NodeJS.ProcessEnv, plain: boolean): { value: unknown; problems: string[] } {
  const asDuration = ENV_DURATION.exec(raw);
  if (asDuration) return expandEnvDuration(asDuration, env);
  const problems: string[] = [];
  let whole = false;
  const expanded = raw.replace(ENV_REF, (m, name: string | undefined, def: string | undefined, offset: number) => {
    if (m === '$$') return '$';
    if (offset === 0 && m.length === raw.length) whole = true;
    const n = (name ?? '').trim();
    if (!ENV_NAME.test(n)) {
      problems.push(`"${m}" is not a valid environment reference (use \${env:NAME} or \${env:NAME:-default})`);
      return m;
    }
    const v = env[n];
    if (v !== undefined && v !== '') return v;
    if (def !== undefined) return def;
    problems.push(`environment variable ${n} is not set and has no default (write \${env:${n}:-default})`);
    return '';
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the replace callback above; the compiler does not see it
  if (whole && plain && problems.length === 0 && expanded.trim() !== '') {
    try {
      const typed: unknown = parseYaml(expanded);
      if (typed === null || ['string', 'number', 'boolean'].includes(typeof typed)) return { value: typed ?? null, problems };
    } catch {
      /* not a YAML scalar: keep the string */
    }
  }
  return { value: expanded, problems };
}

export interface LoadedFile {
  value: unknown;
  errors: ConfigError[];
}

/** Parses one YAML text into a plain value, recording locations into `sources`. */
export function loadYamlText(text: string, file: string, sources: SourceMap, env: NodeJS.ProcessEnv = process.env): LoadedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors: ConfigError[] = [];
  for (const e of doc.errors) {
    errors.push({ file, line: lineCounter.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (errors.length) return { value: undefined, errors };
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);

  const walk = (node: Node | null | undefined, path: (string | number)[]): unknown => {
    if (node == null) return null;
    if (isAlias(node)) return walk(node.resolve(doc), path);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const p = [...path, key];
        const line = lineOf(keyNode);
        if (line) sources.set(p, { file, line });
        out[key] = walk(pair.value as Node | null, p);
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const p = [...path, i];
        const line = lineOf(item as Node);
        if (line) sources.set(p, { file, line });
        return walk(item as Node, p);
      });
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string' && v.includes('$')) {
        const { value, problems } = expandEnv(v, env, node.type === Scalar.PLAIN);
        for (const message of problems) errors.push({ file, line: lineOf(node), path: formatPath(path), message });
        return value;
      }
      return v;
    }
    return null;
  };
  if (doc.contents) sources.set([], { file, line: lineOf(doc.contents) ?? 1 });
  const value = walk(doc.contents, []);
  return { value, errors };
}

export function loadYamlFile(path: string, sources: SourceMap, env?: NodeJS.ProcessEnv): LoadedFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { value: undefined, errors: [{ file: path, path: '', message: `cannot read config file: ${(e as Error).message}` }] };
  }
  return loadYamlText(text, path, sources, env);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Deep-merges `b` onto `a`: maps merge, everything else (lists included) is replaced. An empty
 * value (`processors:` with nothing under it) does not wipe out a map defined earlier.
 */
export function deepMerge(a: unknown, b: unknown): unknown {
  if (b === undefined || (b === null && isPlainObject(a))) return a;
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
    return out;
  }
  return b;
}

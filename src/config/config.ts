/**
 * pipeline.yaml → a validated, resolved configuration. Collects EVERY problem (YAML syntax, env
 * references, unknown component types, unknown keys, bad values, dangling references, type links
 * between stages) and reports each with file, line and key path.
 */
import { dirname, resolve } from 'node:path';
import { consumesOf, producesOf, type ComponentKind, type DataType, type Factory, type ProcessorFactory } from '../component.js';
import type { ComponentRegistry } from '../registry.js';
import { suggest, validateAgainst } from './ajv.js';
import { resolveComponentConfig } from './component-config.js';
import { SERVICE, resolveService, type ServiceSettings } from './service.js';
import { withDefaults } from './declare.js';
import { deepMerge, isPlainObject, loadYamlFile, SourceMap, type ConfigError, type Path } from './yaml-source.js';

export type { ConfigError } from './yaml-source.js';
export { formatError } from './yaml-source.js';

const SECTIONS: Record<'receivers' | 'processors' | 'exporters', ComponentKind> = {
  receivers: 'receiver',
  processors: 'processor',
  exporters: 'exporter',
};
const ID_RE = /^([a-zA-Z][0-9a-zA-Z_]{0,62})(?:\/([^\s/][^\s]{0,1023}))?$/;

export interface ComponentConfig {
  kind: ComponentKind;
  /** `type` or `type/name`. */
  id: string;
  type: string;
  factory: Factory;
  config: unknown;
}

export interface PipelineConfig {
  name: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
  /** The data type entering each processor, then the type reaching the exporters (last element). */
  types: DataType[];
}

export type { DurabilitySettings, ServiceSettings } from './service.js';

export interface ResolvedConfig {
  files: string[];
  components: Map<string, ComponentConfig>;
  pipelines: PipelineConfig[];
  service: ServiceSettings;
  plugins: string[];
}

export const componentKey = (kind: ComponentKind, id: string) => `${kind}:${id}`;

const topSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plugins: { type: 'array', items: { type: 'string', minLength: 1 } },
    receivers: { type: ['object', 'null'] },
    processors: { type: ['object', 'null'] },
    exporters: { type: ['object', 'null'] },
    service: SERVICE,
  },
  required: ['service'],
};

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Load plugins named in the config into this registry (default true). */
  loadPlugins?: boolean;
  /** Keep components that no pipeline uses (`spanmeter backfill --exporter` may name one). */
  keepUnused?: boolean;
}

/** What the loading steps share: where each value came from, and every problem found so far. */
interface LoadState {
  sources: SourceMap;
  errors: ConfigError[];
  /** Values whose env reference failed: their (empty) value is not reported a second time. */
  envErrorPaths: Set<string>;
  registry: ComponentRegistry;
}

/**
 * Loads, merges and validates config files. Plugins listed under `plugins:` are loaded into
 * `registry` before components are checked. Returns every error found.
 */
export async function loadConfig(
  files: string[],
  registry: ComponentRegistry,
  opts: LoadOptions = {},
): Promise<{ config?: ResolvedConfig; errors: ConfigError[] }> {
  const env = opts.env ?? process.env;
  const st: LoadState = { sources: new SourceMap(), errors: [], envErrorPaths: new Set(), registry };
  const { root, pluginBase } = readFiles(files, env, st);
  if (!root) return { errors: sortErrors(st.errors) };

  // The service section is checked with its defaults filled in (declared keys with a default are not required).
  const withServiceDefaults = isPlainObject(root.service) ? { ...root, service: withDefaults(SERVICE, root.service) } : root;
  for (const p of validateAgainst(topSchema, withServiceDefaults)) st.errors.push(st.sources.error(p.path, p.message));

  // Plugins first: they may define the component types used below.
  const plugins = Array.isArray(root.plugins) ? root.plugins.filter((p): p is string => typeof p === 'string') : [];
  if (opts.loadPlugins !== false) await loadPlugins(plugins, pluginBase, registry, st);

  const components = resolveComponents(root, registry, st);
  const used = new Set<string>();
  const pipelinesRaw = isPlainObject(root.service) && isPlainObject(root.service.pipelines) ? root.service.pipelines : {};
  const pipelines: PipelineConfig[] = [];
  for (const [name, p] of Object.entries(pipelinesRaw)) {
    if (isPlainObject(p)) pipelines.push(resolvePipeline(name, p, root, components, used, st));
  }

  const earliest = isPlainObject(root.service) && isPlainObject(root.service.billing_checks) ? root.service.billing_checks.earliest_time : undefined;
  if (typeof earliest === 'string' && !Number.isFinite(Date.parse(earliest))) {
    st.errors.push(st.sources.error(['service', 'billing_checks', 'earliest_time'], `"${earliest}" is not a date (write e.g. "2000-01-01")`));
  }
  if (st.errors.length) return { errors: sortErrors(st.errors) };
  const service = resolveService(withServiceDefaults.service, env);
  // Components defined but used by no pipeline are validated, not created (as in the Collector).
  if (!opts.keepUnused) for (const key of [...components.keys()]) if (!used.has(key)) components.delete(key);
  return { config: { files, components, pipelines, service, plugins }, errors: [] };
}

/** Reads and merges the files in order; the merged map, and the directory each plugin was named in. */
function readFiles(files: string[], env: NodeJS.ProcessEnv, st: LoadState): { root?: Record<string, unknown>; pluginBase: Map<string, string> } {
  let merged: unknown = undefined;
  const pluginBase = new Map<string, string>();
  for (const file of files) {
    const { value, errors: fileErrors } = loadYamlFile(file, st.sources, env);
    st.errors.push(...fileErrors);
    for (const e of fileErrors) if (e.path) st.envErrorPaths.add(e.path);
    if (value === undefined || value === null) {
      if (!fileErrors.length) st.errors.push({ file, path: '', message: 'the configuration file is empty' });
      continue;
    }
    if (!isPlainObject(value)) {
      st.errors.push({ file, line: 1, path: '', message: 'the configuration must be a map with receivers, processors, exporters and service' });
      continue;
    }
    if (Array.isArray(value.plugins)) for (const p of value.plugins) if (typeof p === 'string') pluginBase.set(p, dirname(resolve(file)));
    merged = deepMerge(merged, value);
  }
  return { ...(isPlainObject(merged) ? { root: merged } : {}), pluginBase };
}

async function loadPlugins(plugins: string[], pluginBase: Map<string, string>, registry: ComponentRegistry, st: LoadState): Promise<void> {
  for (const [i, spec] of plugins.entries()) {
    try {
      await registry.loadPlugin(spec, pluginBase.get(spec) ?? process.cwd());
    } catch (e) {
      st.errors.push(st.sources.error(['plugins', i], `cannot load plugin: ${(e as Error).message}`));
    }
  }
}

/** Every component under receivers/processors/exporters, its config resolved against its factory. */
function resolveComponents(root: Record<string, unknown>, registry: ComponentRegistry, st: LoadState): Map<string, ComponentConfig> {
  const components = new Map<string, ComponentConfig>();
  for (const [section, kind] of Object.entries(SECTIONS) as [keyof typeof SECTIONS, ComponentKind][]) {
    const entries = root[section];
    if (!isPlainObject(entries)) continue;
    for (const [id, raw] of Object.entries(entries)) {
      const path: Path = [section, id];
      const m = ID_RE.exec(id);
      if (!m) {
        st.errors.push(st.sources.error(path, `invalid component id "${id}": write "type" or "type/name" (type: a letter, then letters, digits or _)`));
        continue;
      }
      const type = m[1]!;
      const factory = registry.get(kind, type);
      if (!factory) {
        const known = registry.types(kind);
        const hint = suggest(type, known);
        st.errors.push(
          st.sources.error(path, `unknown ${kind} type "${type}"${hint ? ` (did you mean "${hint}"?)` : ''}; known ${kind}s: ${known.join(', ') || 'none'}`),
        );
        continue;
      }
      const { config, problems } = resolveComponentConfig(factory, raw);
      for (const p of problems) {
        const e = st.sources.error([...path, ...p.path], p.message);
        if (!st.envErrorPaths.has(e.path)) st.errors.push(e);
      }
      components.set(componentKey(kind, id), { kind, id, type, factory, config });
    }
  }
  return components;
}

/** One pipeline: its references resolved (marked in `used`) and the data type at each link checked. */
function resolvePipeline(
  name: string,
  p: Record<string, unknown>,
  root: Record<string, unknown>,
  components: Map<string, ComponentConfig>,
  used: Set<string>,
  st: LoadState,
): PipelineConfig {
  const list = (k: string) => (Array.isArray(p[k]) ? (p[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
  const pc: PipelineConfig = { name, receivers: list('receivers'), processors: list('processors'), exporters: list('exporters'), types: [] };
  const base: Path = ['service', 'pipelines', name];
  const resolveRefs = (listName: 'receivers' | 'processors' | 'exporters') => {
    const kind = SECTIONS[listName];
    const seen = new Set<string>();
    return pc[listName].map((id, i) => {
      const path = [...base, listName, i];
      if (seen.has(id)) st.errors.push(st.sources.error(path, `${kind} "${id}" is listed twice in this pipeline`));
      seen.add(id);
      const c = components.get(componentKey(kind, id));
      if (!c) {
        const section = isPlainObject(root[listName]) ? root[listName] : {};
        if (!(id in section)) {
          const hint = suggest(id, Object.keys(section));
          st.errors.push(
            st.sources.error(path, `references ${kind} "${id}", which is not defined under ${listName}:${hint ? ` (did you mean "${hint}"?)` : ''}`),
          );
        }
        return undefined;
      }
      used.add(componentKey(kind, id));
      return c;
    });
  };
  linkTypes(pc, base, resolveRefs('receivers'), resolveRefs('processors'), resolveRefs('exporters'), st);
  return pc;
}

/**
 * Type links: receivers → processors → exporters. The pipeline carries one data type: among those
 * every receiver produces, the one its first stage consumes (see carriedType). Fills `pc.types`.
 */
function linkTypes(
  pc: PipelineConfig,
  base: Path,
  receivers: (ComponentConfig | undefined)[],
  processors: (ComponentConfig | undefined)[],
  exporters: (ComponentConfig | undefined)[],
  st: LoadState,
): void {
  const { sources, errors } = st;
  let current: DataType | undefined;
  let from = '';
  let common: readonly DataType[] | undefined;
  receivers.forEach((r, i) => {
    if (!r || r.factory.kind !== 'receiver') return;
    const produced = producesOf(r.factory);
    if (common === undefined) {
      common = produced;
      from = `receiver "${r.id}"`;
      return;
    }
    const both = common.filter((t) => produced.includes(t));
    if (both.length) common = both;
    else
      errors.push(
        sources.error(
          [...base, 'receivers', i],
          `receiver "${r.id}" produces ${produced.join(' or ')} but ${from} produces ${common.join(' or ')}; receivers of one pipeline must produce the same data type`,
        ),
      );
  });
  if (common !== undefined) {
    const first = processors.length ? [processors[0]] : exporters;
    const carried = carriedType(pc.name, common, first);
    if (typeof carried === 'string') current = carried;
    else errors.push(sources.error(base, carried.error));
  }
  let broken = current === undefined;
  processors.forEach((pr, i) => {
    if (broken || !pr || pr.factory.kind !== 'processor' || current === undefined) {
      broken = true;
      return;
    }
    pc.types.push(current);
    const accepts = consumesOf(pr.factory);
    if (!accepts.includes(current)) {
      errors.push(sources.error([...base, 'processors', i], `processor "${pr.id}" consumes ${accepts.join(' or ')} but receives ${current} from ${from}`));
      broken = true;
      return;
    }
    if (pr.factory.produces !== 'same') current = pr.factory.produces;
    from = `processor "${pr.id}"`;
  });
  if (broken || current === undefined) return;
  const delivered = current;
  pc.types.push(delivered);
  exporters.forEach((ex, i) => {
    if (!ex || ex.factory.kind !== 'exporter') return;
    const accepts = consumesOf(ex.factory);
    if (!accepts.includes(delivered)) {
      errors.push(
        sources.error(
          [...base, 'exporters', i],
          `exporter "${ex.id}" consumes ${accepts.join(' or ')} but the pipeline delivers ${delivered} (from ${from})${hintFor(delivered, accepts, st.registry)}`,
        ),
      );
    }
  });
}

/** Pipeline names that ask for logs when the first stage consumes both spans and logs (as in the Collector). */
const LOGS_PIPELINE = /^logs(\/.*)?$/;

/**
 * The data type a pipeline carries, among `common` (what all its receivers produce, main type
 * first): the only one its first stage (the first processor, else every exporter) consumes; when it
 * consumes several, `logs` for a pipeline named `logs` or `logs/<name>`, else the first. When it
 * consumes none, the main type (the link check then reports the mismatch), or an error when it
 * consumes another of the receivers' types but no stage consumes the main one.
 */
export function carriedType(name: string, common: readonly DataType[], first: readonly (ComponentConfig | undefined)[]): DataType | { error: string } {
  const stages = first.filter((c): c is ComponentConfig => c !== undefined && c.factory.kind !== 'receiver');
  const accepts = (c: ComponentConfig) => consumesOf(c.factory as Exclude<Factory, { kind: 'receiver' }>);
  const fits = common.filter((t) => stages.every((c) => accepts(c).includes(t)));
  if (fits.length > 1 && fits.includes('logs') && LOGS_PIPELINE.test(name)) return 'logs';
  if (fits.length) return fits[0]!;
  const main = common[0]!;
  if (common.length > 1 && !stages.some((c) => accepts(c).includes(main)) && stages.some((c) => common.some((t) => accepts(c).includes(t)))) {
    const what = stages.map((c) => `${c.kind} "${c.id}" consumes ${accepts(c).join(' or ')}`).join(', ');
    return { error: `the pipeline can carry none of ${common.join(', ')} (what its receivers produce): ${what}; give each data type its own pipeline` };
  }
  return main;
}

/**
 * "; add the x and y processors before it": the registered processors that turn `current` into a type
 * the exporter accepts (shortest chain, at most three), or '' when there is none.
 */
function hintFor(current: DataType, accepts: readonly DataType[], registry: ComponentRegistry): string {
  const converters = registry
    .types('processor')
    .map((t) => registry.get('processor', t))
    .filter((f): f is ProcessorFactory => f?.kind === 'processor' && f.produces !== 'same');
  let paths: { type: DataType; via: string[] }[] = [{ type: current, via: [] }];
  for (let depth = 0; depth < 3 && paths.length; depth++) {
    const next: { type: DataType; via: string[] }[] = [];
    for (const p of paths) {
      for (const f of converters) {
        const out = f.produces as DataType;
        if (out === p.type || !consumesOf(f).includes(p.type) || p.via.includes(f.type)) continue;
        const via = [...p.via, f.type];
        if (accepts.includes(out)) return `; add the ${via.join(' and ')} processor${via.length > 1 ? 's' : ''} before it`;
        next.push({ type: out, via });
      }
    }
    paths = next;
  }
  return '';
}

function sortErrors(errors: ConfigError[]): ConfigError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.file ?? '').localeCompare(b.e.file ?? '') || (a.e.line ?? 0) - (b.e.line ?? 0) || a.i - b.i)
    .map(({ e }) => e);
}

/**
 * pipeline.yaml → a validated, resolved configuration. Collects EVERY problem (YAML syntax, env
 * references, unknown component types, unknown keys, bad values, dangling references, type links
 * between stages) and reports each with file, line and key path.
 */
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { consumesOf, producesOf, type ComponentKind, type DataType, type Factory } from '../component.js';
import type { ComponentRegistry } from '../registry.js';
import { suggest, validateAgainst } from './ajv.js';
import { resolveComponentConfig } from './component-config.js';
import { parseDuration } from './duration.js';
import { byteSizeSchema, parseByteSize } from './size.js';
import { DEFAULT_LLM_CALL_LIMITS, type LlmCallLimits } from '../data/llm-call-checks.js';
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

export interface DurabilitySettings {
  /** Write-ahead log + spools (default true). Off: acknowledgements mean "accepted in memory". */
  enabled: boolean;
  /** Disk budget for all logs and spools; 0 = unlimited (default 1 GiB). */
  maxDiskBytes: number;
  /**
   * Extra wait before a group commit (default 0: the next turn of the event loop). Appends that
   * arrive while an fdatasync runs share the next one whatever this is.
   */
  syncDelayMs: number;
  segmentBytes: number;
  /** Recent log records kept in memory for forwarding (default 16 MiB). */
  memoryBytes: number;
  checkpointIntervalMs: number;
  /** Free space kept on the data directory's file system for delivery: new data is refused below it (default 32 MiB). */
  minFreeBytes: number;
}

export interface ServiceSettings {
  durability: DurabilitySettings;
  logLevel: string;
  /** Admin/metrics/health HTTP address, or null when disabled. */
  metricsAddress: string | null;
  dataDir: string;
  instanceId: string;
  shutdownTimeoutMs: number;
  /** Billing-value checks every LLM call passes before the write-ahead log. */
  billingChecks: LlmCallLimits;
}

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
    service: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pipelines: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['receivers', 'exporters'],
            properties: {
              receivers: { type: 'array', minItems: 1, items: { type: 'string' } },
              processors: { type: ['array', 'null'], items: { type: 'string' } },
              exporters: { type: 'array', minItems: 1, items: { type: 'string' } },
            },
          },
        },
        telemetry: {
          type: 'object',
          additionalProperties: false,
          properties: {
            logs: {
              type: 'object',
              additionalProperties: false,
              properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] } },
            },
            metrics: {
              type: 'object',
              additionalProperties: false,
              properties: { address: { anyOf: [{ type: 'string', format: 'host-port' }, { type: 'null' }, { const: 'off' }] } },
            },
          },
        },
        data_dir: { type: 'string', minLength: 1 },
        instance_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
        shutdown_timeout: { type: 'string', format: 'duration' },
        billing_checks: {
          type: 'object',
          additionalProperties: false,
          properties: {
            earliest_time: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T.*)?$' },
            max_future: { type: 'string', format: 'duration' },
            max_duration: { type: 'string', format: 'duration' },
            max_tokens: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
            max_id_length: { type: 'integer', minimum: 16, maximum: 1_000_000 },
          },
        },
        durability: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            max_disk_bytes: byteSizeSchema,
            sync_delay: { type: 'string', format: 'duration' },
            segment_size: byteSizeSchema,
            memory_buffer: byteSizeSchema,
            checkpoint_interval: { type: 'string', format: 'duration' },
            min_free_disk: byteSizeSchema,
          },
        },
      },
      required: ['pipelines'],
    },
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
  const sources = new SourceMap();
  const errors: ConfigError[] = [];
  let merged: unknown = undefined;
  const pluginBase = new Map<string, string>();
  // Values whose env reference failed: their (empty) value is not reported a second time.
  const envErrorPaths = new Set<string>();
  for (const file of files) {
    const { value, errors: fileErrors } = loadYamlFile(file, sources, env);
    errors.push(...fileErrors);
    for (const e of fileErrors) if (e.path) envErrorPaths.add(e.path);
    if (value === undefined || value === null) {
      if (!fileErrors.length) errors.push({ file, path: '', message: 'the configuration file is empty' });
      continue;
    }
    if (!isPlainObject(value)) {
      errors.push({ file, line: 1, path: '', message: 'the configuration must be a map with receivers, processors, exporters and service' });
      continue;
    }
    if (Array.isArray(value.plugins)) for (const p of value.plugins) if (typeof p === 'string') pluginBase.set(p, dirname(resolve(file)));
    merged = deepMerge(merged, value);
  }
  if (!isPlainObject(merged)) return { errors: sortErrors(errors) };
  const root = merged;

  for (const p of validateAgainst(topSchema, root)) errors.push(sources.error(p.path, p.message));

  // Plugins first: they may define the component types used below.
  const plugins = Array.isArray(root.plugins) ? root.plugins.filter((p): p is string => typeof p === 'string') : [];
  if (opts.loadPlugins !== false) {
    for (const [i, spec] of plugins.entries()) {
      try {
        await registry.loadPlugin(spec, pluginBase.get(spec) ?? process.cwd());
      } catch (e) {
        errors.push(sources.error(['plugins', i], `cannot load plugin: ${(e as Error).message}`));
      }
    }
  }

  const components = new Map<string, ComponentConfig>();
  for (const [section, kind] of Object.entries(SECTIONS) as [keyof typeof SECTIONS, ComponentKind][]) {
    const entries = root[section];
    if (!isPlainObject(entries)) continue;
    for (const [id, raw] of Object.entries(entries)) {
      const path: Path = [section, id];
      const m = ID_RE.exec(id);
      if (!m) {
        errors.push(sources.error(path, `invalid component id "${id}": write "type" or "type/name" (type: a letter, then letters, digits or _)`));
        continue;
      }
      const type = m[1]!;
      const factory = registry.get(kind, type);
      if (!factory) {
        const known = registry.types(kind);
        const hint = suggest(type, known);
        errors.push(
          sources.error(path, `unknown ${kind} type "${type}"${hint ? ` (did you mean "${hint}"?)` : ''}; known ${kind}s: ${known.join(', ') || 'none'}`),
        );
        continue;
      }
      const { config, problems } = resolveComponentConfig(factory, raw);
      for (const p of problems) {
        const e = sources.error([...path, ...p.path], p.message);
        if (!envErrorPaths.has(e.path)) errors.push(e);
      }
      components.set(componentKey(kind, id), { kind, id, type, factory, config });
    }
  }

  const pipelines: PipelineConfig[] = [];
  const pipelinesRaw = isPlainObject(root.service) && isPlainObject(root.service.pipelines) ? root.service.pipelines : {};
  const used = new Set<string>();
  for (const [name, p] of Object.entries(pipelinesRaw)) {
    if (!isPlainObject(p)) continue;
    const list = (k: string) => (Array.isArray(p[k]) ? (p[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []);
    const pc: PipelineConfig = { name, receivers: list('receivers'), processors: list('processors'), exporters: list('exporters'), types: [] };
    const base: Path = ['service', 'pipelines', name];
    const resolveRefs = (listName: 'receivers' | 'processors' | 'exporters') => {
      const kind = SECTIONS[listName];
      const seen = new Set<string>();
      return pc[listName].map((id, i) => {
        const path = [...base, listName, i];
        if (seen.has(id)) errors.push(sources.error(path, `${kind} "${id}" is listed twice in this pipeline`));
        seen.add(id);
        const c = components.get(componentKey(kind, id));
        if (!c) {
          const defined = isPlainObject(root[listName]) && id in (root[listName] as object);
          if (!defined) {
            const hint = suggest(id, Object.keys(isPlainObject(root[listName]) ? (root[listName] as object) : {}));
            errors.push(sources.error(path, `references ${kind} "${id}", which is not defined under ${listName}:${hint ? ` (did you mean "${hint}"?)` : ''}`));
          }
          return undefined;
        }
        used.add(componentKey(kind, id));
        return c;
      });
    };
    const receivers = resolveRefs('receivers');
    const processors = resolveRefs('processors');
    const exporters = resolveRefs('exporters');

    // Type links: receivers → processors → exporters. The pipeline carries one data type: among
    // those every receiver produces, the one its first stage consumes (see carriedType).
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
      else errors.push(sources.error([...base, 'receivers', i], `receiver "${r.id}" produces ${produced.join(' or ')} but ${from} produces ${common.join(' or ')}; receivers of one pipeline must produce the same data type`));
    });
    if (common !== undefined) {
      const first = processors.length ? [processors[0]] : exporters;
      const carried = carriedType(name, common, first);
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
    if (!broken && current !== undefined) {
      pc.types.push(current);
      exporters.forEach((ex, i) => {
        if (!ex || ex.factory.kind !== 'exporter') return;
        const accepts = consumesOf(ex.factory);
        if (!accepts.includes(current!)) {
          errors.push(
            sources.error([...base, 'exporters', i], `exporter "${ex.id}" consumes ${accepts.join(' or ')} but the pipeline delivers ${current} (from ${from})${hintFor(current!, accepts)}`),
          );
        }
      });
    }
    pipelines.push(pc);
  }

  // Service settings.
  const svc = isPlainObject(root.service) ? root.service : {};
  const tel = isPlainObject(svc.telemetry) ? svc.telemetry : {};
  const logs = isPlainObject(tel.logs) ? tel.logs : {};
  const metrics = isPlainObject(tel.metrics) ? tel.metrics : {};
  const address = 'address' in metrics ? metrics.address : '127.0.0.1:8888';
  let shutdownTimeoutMs = 30_000;
  if (typeof svc.shutdown_timeout === 'string') {
    try {
      shutdownTimeoutMs = parseDuration(svc.shutdown_timeout);
    } catch {
      /* reported by the schema */
    }
  }
  const dur = isPlainObject(svc.durability) ? svc.durability : {};
  const safe = <T>(f: () => T, dflt: T): T => {
    try {
      return f();
    } catch {
      return dflt; // reported by the schema
    }
  };
  const durability: DurabilitySettings = {
    enabled: typeof dur.enabled === 'boolean' ? dur.enabled : true,
    maxDiskBytes: safe(() => parseByteSize((dur.max_disk_bytes as string | number | undefined) ?? '1GiB'), 1024 ** 3),
    syncDelayMs: safe(() => parseDuration((dur.sync_delay as string | undefined) ?? '0ms'), 0),
    segmentBytes: safe(() => parseByteSize((dur.segment_size as string | number | undefined) ?? '16MiB'), 16 * 1024 ** 2),
    memoryBytes: safe(() => parseByteSize((dur.memory_buffer as string | number | undefined) ?? '16MiB'), 16 * 1024 ** 2),
    checkpointIntervalMs: safe(() => parseDuration((dur.checkpoint_interval as string | undefined) ?? '200ms'), 200),
    minFreeBytes: safe(() => parseByteSize((dur.min_free_disk as string | number | undefined) ?? '32MiB'), 32 * 1024 ** 2),
  };
  const bc = isPlainObject(svc.billing_checks) ? svc.billing_checks : {};
  const D = DEFAULT_LLM_CALL_LIMITS;
  const earliest = typeof bc.earliest_time === 'string' ? Date.parse(bc.earliest_time) : D.earliestMs;
  if (typeof bc.earliest_time === 'string' && !Number.isFinite(earliest)) {
    errors.push(sources.error(['service', 'billing_checks', 'earliest_time'], `"${bc.earliest_time}" is not a date (write e.g. "2000-01-01")`));
  }
  const billingChecks: LlmCallLimits = {
    earliestMs: Number.isFinite(earliest) ? earliest : D.earliestMs,
    maxFutureMs: safe(() => (typeof bc.max_future === 'string' ? parseDuration(bc.max_future) : D.maxFutureMs), D.maxFutureMs),
    maxDurationMs: safe(() => (typeof bc.max_duration === 'string' ? parseDuration(bc.max_duration) : D.maxDurationMs), D.maxDurationMs),
    maxTokens: typeof bc.max_tokens === 'number' ? bc.max_tokens : D.maxTokens,
    maxIdLength: typeof bc.max_id_length === 'number' ? bc.max_id_length : D.maxIdLength,
  };
  const service: ServiceSettings = {
    billingChecks,
    durability,
    logLevel: (typeof logs.level === 'string' ? logs.level : undefined) ?? env.SPANMETER_LOG_LEVEL ?? 'info',
    metricsAddress: typeof address === 'string' && address !== 'off' ? address : null,
    dataDir: typeof svc.data_dir === 'string' ? svc.data_dir : './data',
    instanceId: typeof svc.instance_id === 'string' ? svc.instance_id : sanitizeInstance(env.HOSTNAME ?? hostname()),
    shutdownTimeoutMs,
  };

  if (errors.length) return { errors: sortErrors(errors) };
  // Components defined but used by no pipeline are validated, not created (as in the Collector).
  if (!opts.keepUnused) for (const key of [...components.keys()]) if (!used.has(key)) components.delete(key);
  return { config: { files, components, pipelines, service, plugins }, errors: [] };
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

function hintFor(current: DataType, accepts: readonly DataType[]): string {
  if (current === 'spans' && accepts.includes('meter_events')) return '; add the litellm and amberflo processors before it';
  if (current === 'spans' && accepts.includes('llm_calls')) return '; add the litellm processor before it';
  if (current === 'llm_calls' && accepts.includes('meter_events')) return '; add the amberflo processor before it';
  return '';
}

function sanitizeInstance(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'spanmeter';
}

function sortErrors(errors: ConfigError[]): ConfigError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (a.e.file ?? '').localeCompare(b.e.file ?? '') || (a.e.line ?? 0) - (b.e.line ?? 0) || a.i - b.i)
    .map(({ e }) => e);
}

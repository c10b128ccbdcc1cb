/**
 * The registry of component factories. Built-in components are discovered from the
 * `receivers/`, `processors/` and `exporters/` folders (each folder's `index.js` default-exports
 * its factory); plugins named in pipeline.yaml register through exactly the same checks.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BackpressureError,
  DATA_TYPES,
  PermanentError,
  consumesOf,
  defineFactory,
  type ComponentKind,
  type DataType,
  type ExporterFactory,
  type Factory,
  type ProcessorFactory,
} from './component.js';
import { compileSchema } from './config/ajv.js';
import { durationSchema, parseDuration } from './config/duration.js';
import { ByteSize, Duration, Nullable, Section, Settings, Type } from './config/declare.js';
import { defineMetrics, instruments } from './telemetry/declare.js';

const TYPE_RE = /^[a-zA-Z][0-9a-zA-Z_]{0,62}$/;
const KIND_DIRS: Record<ComponentKind, string> = { receiver: 'receivers', processor: 'processors', exporter: 'exporters' };

/** What a plugin module's default-exported function receives. */
export interface PluginApi {
  register(factory: Factory): void;
  defineFactory: typeof defineFactory;
  BackpressureError: typeof BackpressureError;
  PermanentError: typeof PermanentError;
  parseDuration: typeof parseDuration;
  durationSchema: typeof durationSchema;
  /** Config declaration helpers (src/config/declare.ts): schema, defaults, docs and conversions from one declaration. */
  config: typeof configDeclarations;
  /** Metric declaration helpers (src/telemetry/declare.ts). */
  metrics: { defineMetrics: typeof defineMetrics; instruments: typeof instruments };
}

const configDeclarations = { Type, Duration, ByteSize, Settings, Section, Nullable };

export class ComponentRegistry {
  private readonly factories = new Map<ComponentKind, Map<string, { factory: Factory; origin: string }>>([
    ['receiver', new Map()],
    ['processor', new Map()],
    ['exporter', new Map()],
  ]);

  /** Registers a factory after checking its shape; throws with a clear message otherwise. */
  register(factory: Factory, origin = 'built-in'): void {
    const problems = checkFactory(factory);
    if (problems.length) throw new Error(`invalid component factory from ${origin}: ${problems.join('; ')}`);
    const byType = this.factories.get(factory.kind)!;
    const existing = byType.get(factory.type);
    if (existing) {
      throw new Error(`${factory.kind} type "${factory.type}" from ${origin} is already registered by ${existing.origin}`);
    }
    byType.set(factory.type, { factory, origin });
  }

  get(kind: ComponentKind, type: string): Factory | undefined {
    return this.factories.get(kind)!.get(type)?.factory;
  }

  types(kind: ComponentKind): string[] {
    return [...this.factories.get(kind)!.keys()].sort();
  }

  list(): { factory: Factory; origin: string }[] {
    const out: { factory: Factory; origin: string }[] = [];
    for (const kind of ['receiver', 'processor', 'exporter'] as const) {
      for (const type of this.types(kind)) out.push(this.factories.get(kind)!.get(type)!);
    }
    return out;
  }

  /** Imports a plugin (a path relative to `baseDir`, an absolute path, or an npm package name). */
  async loadPlugin(spec: string, baseDir: string): Promise<void> {
    const isPath = spec.startsWith('.') || isAbsolute(spec);
    let url: string;
    if (isPath) {
      const file = resolve(baseDir, spec);
      if (!existsSync(file)) throw new Error(`plugin file not found: ${file}`);
      url = pathToFileURL(file).href;
    } else {
      // Resolve packages from the config's directory first, then from spanmeter's own.
      try {
        url = pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(spec)).href;
      } catch {
        try {
          url = pathToFileURL(createRequire(import.meta.url).resolve(spec)).href;
        } catch {
          throw new Error(`plugin package "${spec}" is not installed (npm install ${spec})`);
        }
      }
    }
    const mod = (await import(url)) as { default?: unknown };
    const exported = mod.default ?? mod;
    const registered: Factory[] = [];
    const api: PluginApi = {
      register: (f) => {
        this.register(f, `plugin ${spec}`);
        registered.push(f);
      },
      defineFactory,
      BackpressureError,
      PermanentError,
      parseDuration,
      durationSchema,
      config: configDeclarations,
      metrics: { defineMetrics, instruments },
    };
    let result: unknown = exported;
    if (typeof exported === 'function') result = await (exported as (api: PluginApi) => unknown)(api);
    if (result != null && result !== exported) {
      for (const f of Array.isArray(result) ? result : [result]) api.register(f as Factory);
    } else if (typeof exported !== 'function') {
      for (const f of Array.isArray(exported) ? exported : [exported]) api.register(f as Factory);
    }
    if (registered.length === 0) {
      throw new Error(`plugin ${spec} registered no component (export a factory, a list of factories, or a function calling api.register)`);
    }
  }
}

/** Checks a factory's shape at run time: a plugin's factory is only as typed as its author made it. */
function checkFactory(candidate: unknown): string[] {
  const p: string[] = [];
  if (!candidate || typeof candidate !== 'object') return ['not an object'];
  const f = candidate as Partial<Factory>;
  if (!(['receiver', 'processor', 'exporter'] as unknown[]).includes(f.kind))
    p.push(`kind must be receiver, processor or exporter, not ${JSON.stringify(f.kind)}`);
  if (typeof f.type !== 'string' || !TYPE_RE.test(f.type)) p.push(`type ${JSON.stringify(f.type)} must match ${TYPE_RE}`);
  if (typeof f.create !== 'function') p.push('create must be a function');
  if (f.defaultConfig !== undefined && typeof f.defaultConfig !== 'function') p.push('defaultConfig must be a function when given');
  if (!f.configSchema || typeof f.configSchema !== 'object') p.push('configSchema must be a JSON Schema object');
  else {
    try {
      compileSchema(f.configSchema);
    } catch (e) {
      p.push(`configSchema does not compile: ${(e as Error).message}`);
    }
  }
  const isType = (t: unknown) => DATA_TYPES.includes(t as DataType);
  if (f.kind === 'receiver' && !isType(f.produces)) p.push(`produces must be one of ${DATA_TYPES.join(', ')}`);
  if (f.kind === 'receiver' && f.alsoProduces !== undefined && !(Array.isArray(f.alsoProduces) && f.alsoProduces.every(isType))) {
    p.push(`alsoProduces must be a list of ${DATA_TYPES.join(', ')}`);
  }
  if (f.kind === 'processor' && !(isType(f.produces) || f.produces === 'same')) p.push(`produces must be one of ${DATA_TYPES.join(', ')} or "same"`);
  if (f.kind === 'processor' || f.kind === 'exporter') {
    const consumes = consumesOf(f as ProcessorFactory | ExporterFactory);
    if (!(consumes.length > 0 && consumes.every(isType))) p.push(`consumes must be one or more of ${DATA_TYPES.join(', ')}`);
  }
  return p;
}

/** The folder holding the compiled (or source) component folders. */
function componentsRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

/** Discovers and registers every built-in component. */
export async function loadBuiltins(registry: ComponentRegistry): Promise<void> {
  const root = componentsRoot();
  for (const [kind, dir] of Object.entries(KIND_DIRS) as [ComponentKind, string][]) {
    const base = join(root, dir);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const index = join(base, name, 'index.js');
      if (!existsSync(index)) continue;
      const mod = (await import(pathToFileURL(index).href)) as { default?: Factory };
      if (!mod.default) throw new Error(`${dir}/${name}/index.js has no default export (its factory)`);
      if (mod.default.kind !== kind) throw new Error(`${dir}/${name} exports a ${mod.default.kind} factory; expected a ${kind}`);
      registry.register(mod.default, `${dir}/${name}`);
    }
  }
}

let builtins: Promise<ComponentRegistry> | undefined;

/** A fresh registry with the built-ins (discovery is done once per process). */
export async function createRegistry(): Promise<ComponentRegistry> {
  builtins ??= (async () => {
    const r = new ComponentRegistry();
    await loadBuiltins(r);
    return r;
  })();
  const base = await builtins;
  const r = new ComponentRegistry();
  for (const { factory, origin } of base.list()) r.register(factory, origin);
  return r;
}

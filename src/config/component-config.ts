/**
 * A component's config from what the user wrote: defaults filled in from the declaration, checked
 * against its schema and its factory's `validate`, durations and sizes converted. The loader and
 * programmatic users (tests, `spanmeter backfill`) go through the same steps.
 */
import type { ConfigProblem, Factory } from '../component.js';
import type { Static, TSchema } from './declare.js';
import { converted, withDefaults } from './declare.js';
import { validateAgainst } from './ajv.js';
import { deepMerge, isPlainObject, type Path } from './yaml-source.js';

export interface ComponentConfigResult {
  /** The config the component's `create` receives; undefined when there are problems. */
  config?: unknown;
  /** Problems, each with its path inside the component's config. */
  problems: { path: Path; message: string }[];
}

/** Resolves `raw` (the map written under the component's id; null or undefined for the defaults). */
export function resolveComponentConfig(factory: Factory, raw: unknown): ComponentConfigResult {
  if (raw !== null && raw !== undefined && !isPlainObject(raw)) {
    return { problems: [{ path: [], message: 'must be a map of settings (or empty for the defaults)' }] };
  }
  const schema = factory.configSchema;
  // A plain JSON Schema with a defaultConfig() (plugins): the user's keys on top of the defaults.
  const filled = factory.defaultConfig ? deepMerge(factory.defaultConfig(), raw ?? {}) : withDefaults(schema, raw ?? {});
  const problems = validateAgainst(schema, filled);
  if (problems.length) return { problems };
  const config = converted(schema, filled);
  const extra: ConfigProblem[] = factory.validate ? factory.validate(config) : [];
  if (extra.length) return { problems: extra.map((p) => ({ path: p.path ? p.path.split('.') : [], message: p.message })) };
  return { config, problems: [] };
}

/**
 * The resolved config of a factory, with `overrides` written as in pipeline.yaml; throws with every
 * problem when they are not valid.
 */
export function configOf<S extends TSchema>(factory: { configSchema: S } & Factory, overrides: Record<string, unknown> = {}): Static<S> {
  const { config, problems } = resolveComponentConfig(factory, overrides);
  if (problems.length) {
    throw new Error(`invalid ${factory.kind} "${factory.type}" config: ${problems.map((p) => `${p.path.join('.') || '(root)'}: ${p.message}`).join('; ')}`);
  }
  return config as Static<S>;
}

/**
 * Routing by a dimension value: records whose `dimensions[dimension]` has a configured value go to
 * that route's destination (another prefix, bucket or container); everything else — unknown
 * values, missing dimension — goes to the exporter's default destination. Nothing is dropped.
 */
import type { MeterRecord } from '../data/meter-record.js';
import type { TProperties } from 'typebox';
import { Settings, Type } from '../config/declare.js';

/** A resolved `routing` block: `routing: { dimension: business_unit_id, routes: { <value>: { path: ... } } }`. */
export interface RoutingConfig<O> {
  dimension: string;
  routes: Record<string, O>;
}

/**
 * The `routing` block of an object exporter, declared once: `overrides` are the exporter's own
 * per-route keys (its bucket, container or directory, each optional); every route may also set
 * `path`. `what` names the destination in the description ("bucket or prefix").
 */
export function RoutingSettings<O extends TProperties>(overrides: O, what: string) {
  const route = Settings(
    { ...overrides, path: Type.Optional(Type.String({ description: 'Key prefix for this route.' })) },
    { description: "Overrides of one route; unset keys are the exporter's own." },
  );
  return Settings(
    {
      dimension: Type.String({ minLength: 1, description: 'Dimension whose value selects the route, e.g. business_unit_id.' }),
      routes: Type.Record(Type.String(), route, {
        default: {},
        description: `Dimension value → overrides (${[...Object.keys(overrides), 'path'].join(', ')}). Values not listed go to the default destination.`,
      }),
    },
    { description: `Route records to another ${what} by the value of one dimension; other values use the default.` },
  );
}

/** The overrides of a route (none for the default route, undefined). */
export function routeOverrides<O>(routing: RoutingConfig<O> | undefined, route: string | undefined): Partial<O> {
  return (route !== undefined ? routing?.routes[route] : undefined) ?? {};
}

/** The route value of a record: a configured value, or undefined for the default route. */
export function routeOf<O>(r: MeterRecord, routing: RoutingConfig<O> | undefined): string | undefined {
  if (!routing) return undefined;
  const v = r.dimensions?.[routing.dimension];
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(routing.routes, v) ? v : undefined;
}

/** Groups records by route, preserving order inside each group; the default route has key undefined. */
export function groupByRoute<O>(records: readonly MeterRecord[], routing: RoutingConfig<O> | undefined): Map<string | undefined, MeterRecord[]> {
  const out = new Map<string | undefined, MeterRecord[]>();
  if (!routing) {
    out.set(undefined, records as MeterRecord[]);
    return out;
  }
  for (const r of records) {
    const k = routeOf(r, routing);
    let g = out.get(k);
    if (!g) out.set(k, (g = []));
    g.push(r);
  }
  return out;
}

/**
 * Problems with a key prefix (`path`): it is joined under the destination's root, so `..`
 * segments and absolute paths (which would write outside it) are refused.
 */
export function keyPrefixProblems(p: unknown, at: string): { path: string; message: string }[] {
  if (typeof p !== 'string' || p === '') return [];
  if (/^([/\\]|[A-Za-z]:)/.test(p)) return [{ path: at, message: `must be a relative key prefix, not the absolute path "${p}"` }];
  if (p.split(/[/\\]/).some((seg) => seg === '..'))
    return [{ path: at, message: `must not contain ".." segments ("${p}" would write outside the destination)` }];
  return [];
}

/** keyPrefixProblems for an exporter's `path` and every route's `path`. */
export function routingPathProblems(c: { path?: unknown; routing?: RoutingConfig<{ path?: unknown }> }): { path: string; message: string }[] {
  const out = keyPrefixProblems(c.path, 'path');
  // A route left empty in YAML is null.
  for (const [value, o] of Object.entries(c.routing?.routes ?? {}) as [string, { path?: unknown } | null][])
    out.push(...keyPrefixProblems(o?.path, `routing.routes.${value}.path`));
  return out;
}

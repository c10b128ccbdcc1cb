/**
 * `spans`: decoded OTLP trace data, the shape of an `ExportTraceServiceRequest` with attribute
 * values decoded to plain JavaScript values that keep their OTLP type:
 *
 * | OTLP AnyValue | here                                  |
 * |---------------|---------------------------------------|
 * | stringValue   | string                                |
 * | boolValue     | boolean                               |
 * | intValue      | bigint (int64, no precision loss)     |
 * | doubleValue   | number                                |
 * | bytesValue    | Uint8Array                            |
 * | arrayValue    | AttrValue[]                           |
 * | kvlistValue   | KvList (a null-prototype object)      |
 * | (empty)       | null                                  |
 *
 * Ids are lower-case hex strings ('' when absent). Times are bigint nanoseconds since the epoch.
 * Receivers produce this; nothing downstream depends on the wire encoding.
 */
export type AttrValue = string | boolean | bigint | number | Uint8Array | AttrValue[] | KvList | null;

/** A kvlistValue. Created with {@link kvlist} so it is told apart from arrays and bytes. */
export interface KvList {
  readonly [key: string]: AttrValue;
}

export type Attributes = Record<string, AttrValue>;

/** The prototype of attribute maps: an object without a prototype and without properties. */
const ATTRIBUTES_PROTO = Object.create(null) as object;
function AttributeMap(this: object): void {}
AttributeMap.prototype = ATTRIBUTES_PROTO;

/**
 * A new, empty {@link Attributes} map, as every decoder makes them. Object.prototype is not in its
 * prototype chain, so keys such as `__proto__` are ordinary keys; unlike `Object.create(null)`'s
 * objects, these start as fast (not dictionary-mode) objects. Why: docs/design/decoding.md ("Attribute maps").
 */
export function newAttributes(): Attributes {
  return new (AttributeMap as unknown as new () => Attributes)();
}

export function kvlist(entries: Iterable<[string, AttrValue]>): KvList {
  const o = Object.create(null) as Record<string, AttrValue>;
  for (const [k, v] of entries) o[k] = v;
  return o;
}

export function isKvList(v: AttrValue): v is KvList {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
}

export interface SpanStatus {
  /** 0 unset, 1 ok, 2 error. */
  code: number;
  message: string;
}

export interface Span {
  traceId: string;
  spanId: string;
  traceState: string;
  parentSpanId: string;
  flags: number;
  name: string;
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: SpanStatus;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  schemaUrl: string;
  spans: Span[];
}

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface ResourceSpans {
  resource: Resource;
  schemaUrl: string;
  scopeSpans: ScopeSpans[];
}

/** One `spans` item: the content of one export request. */
export interface SpanBatch {
  resourceSpans: ResourceSpans[];
  /**
   * Spans a receiver read and checked but did not build, because every pipeline ignores them (see
   * `Consumer.spanSelector`): how many had both ids, and how many lacked one (refused, as any span
   * without ids). Absent: none were left out.
   */
  omitted?: { valid: number; invalid: number };
}

/** Number of spans in a batch. */
export function spanCount(batch: SpanBatch): number {
  let n = 0;
  for (const rs of batch.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/**
 * OTLP/JSON (the protobuf JSON mapping with OTLP's rules: hex ids, lowerCamelCase names, int64 as
 * decimal strings or numbers, enums as integers) ⇄ {@link SpanBatch}.
 * Spec: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
 */
import type { AttrValue, Attributes, InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span, SpanBatch, SpanEvent, SpanLink } from '../data/span.js';
import { isKvList, kvlist, newAttributes } from '../data/span.js';

/** Malformed input: the receiver answers 400 with this message. */
export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

type J = Record<string, unknown>;

const isObj = (v: unknown): v is J => v !== null && typeof v === 'object' && !Array.isArray(v);

function fail(where: string, what: string): never {
  throw new OtlpDecodeError(`${where}: ${what}`);
}

function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(where, 'must be an array');
  return v;
}

function str(v: unknown, where: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(where, 'must be a string');
  return v;
}

function uint(v: unknown, where: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  fail(where, 'must be a non-negative integer');
}

const INT64_RE = /^-?\d{1,20}$/;
function int64(v: unknown, where: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'string' && INT64_RE.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  fail(where, 'must be an integer (a decimal string for 64-bit values)');
}

function hexId(v: unknown, bytes: number, where: string): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string' || v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v)) fail(where, `must be ${bytes * 2} hex characters`);
  return v.toLowerCase();
}

/**
 * Messages nest at most this deep, counted as protobufjs counts them (the request is depth 0, a
 * span 3, its attributes' values 5): the same limit, and so the same answer, as OTLP/protobuf.
 */
export const MAX_MESSAGE_DEPTH = 100;

function anyValue(v: unknown, where: string, depth: number): AttrValue {
  if (v === undefined || v === null) return null;
  if (depth > MAX_MESSAGE_DEPTH) throw new OtlpDecodeError(`attribute value nested more than ${MAX_MESSAGE_DEPTH} messages deep (max depth exceeded)`);
  if (!isObj(v)) fail(where, 'must be an AnyValue object');
  if ('stringValue' in v) return str(v.stringValue, where);
  if ('boolValue' in v) {
    if (typeof v.boolValue !== 'boolean') fail(where, 'boolValue must be true or false');
    return v.boolValue;
  }
  if ('intValue' in v) return int64(v.intValue, where);
  if ('doubleValue' in v) {
    const d = v.doubleValue;
    if (typeof d === 'number') return d;
    if (d === 'NaN') return NaN;
    if (d === 'Infinity') return Infinity;
    if (d === '-Infinity') return -Infinity;
    if (typeof d === 'string' && d.trim() !== '' && !Number.isNaN(Number(d))) return Number(d);
    fail(where, 'doubleValue must be a number');
  }
  if ('bytesValue' in v) {
    const b = v.bytesValue;
    if (typeof b !== 'string' || !/^[A-Za-z0-9+/_-]*=*$/.test(b)) fail(where, 'bytesValue must be base64');
    return new Uint8Array(Buffer.from(b, 'base64'));
  }
  if ('arrayValue' in v) {
    const a = v.arrayValue;
    if (!isObj(a)) fail(where, 'arrayValue must be an object');
    return list(a.values, `${where}.arrayValue.values`).map((x, i) => anyValue(x, `${where}.arrayValue.values[${i}]`, depth + 2));
  }
  if ('kvlistValue' in v) {
    const kv = v.kvlistValue;
    if (!isObj(kv)) fail(where, 'kvlistValue must be an object');
    return kvlist(Object.entries(attributes(kv.values, `${where}.kvlistValue.values`, depth + 2)));
  }
  return null;
}

/** Attributes whose KeyValue messages are at `depth` (their values one deeper). */
function attributes(v: unknown, where: string, depth: number): Attributes {
  const out: Attributes = newAttributes();
  list(v, where).forEach((kv, i) => {
    if (!isObj(kv)) fail(`${where}[${i}]`, 'must be a KeyValue object');
    out[str(kv.key, `${where}[${i}].key`)] = anyValue(kv.value, `${where}[${i}].value`, depth + 1);
  });
  return out;
}

function event(v: unknown, where: string): SpanEvent {
  if (!isObj(v)) fail(where, 'must be an object');
  return {
    timeUnixNano: int64(v.timeUnixNano, `${where}.timeUnixNano`),
    name: str(v.name, `${where}.name`),
    attributes: attributes(v.attributes, `${where}.attributes`, 5),
    droppedAttributesCount: uint(v.droppedAttributesCount, `${where}.droppedAttributesCount`),
  };
}

function link(v: unknown, where: string): SpanLink {
  if (!isObj(v)) fail(where, 'must be an object');
  return {
    traceId: hexId(v.traceId, 16, `${where}.traceId`),
    spanId: hexId(v.spanId, 8, `${where}.spanId`),
    traceState: str(v.traceState, `${where}.traceState`),
    attributes: attributes(v.attributes, `${where}.attributes`, 5),
    droppedAttributesCount: uint(v.droppedAttributesCount, `${where}.droppedAttributesCount`),
    flags: uint(v.flags, `${where}.flags`),
  };
}

function span(v: unknown, where: string): Span {
  if (!isObj(v)) fail(where, 'must be an object');
  const status = isObj(v.status) ? v.status : {};
  return {
    traceId: hexId(v.traceId, 16, `${where}.traceId`),
    spanId: hexId(v.spanId, 8, `${where}.spanId`),
    traceState: str(v.traceState, `${where}.traceState`),
    parentSpanId: hexId(v.parentSpanId, 8, `${where}.parentSpanId`),
    flags: uint(v.flags, `${where}.flags`),
    name: str(v.name, `${where}.name`),
    kind: uint(v.kind, `${where}.kind`),
    startTimeUnixNano: int64(v.startTimeUnixNano, `${where}.startTimeUnixNano`),
    endTimeUnixNano: int64(v.endTimeUnixNano, `${where}.endTimeUnixNano`),
    attributes: attributes(v.attributes, `${where}.attributes`, 4),
    droppedAttributesCount: uint(v.droppedAttributesCount, `${where}.droppedAttributesCount`),
    events: list(v.events, `${where}.events`).map((e, i) => event(e, `${where}.events[${i}]`)),
    droppedEventsCount: uint(v.droppedEventsCount, `${where}.droppedEventsCount`),
    links: list(v.links, `${where}.links`).map((l, i) => link(l, `${where}.links[${i}]`)),
    droppedLinksCount: uint(v.droppedLinksCount, `${where}.droppedLinksCount`),
    status: { code: uint(status.code, `${where}.status.code`), message: str(status.message, `${where}.status.message`) },
  };
}

function scope(v: unknown, where: string): InstrumentationScope {
  const s = isObj(v) ? v : {};
  return {
    name: str(s.name, `${where}.name`),
    version: str(s.version, `${where}.version`),
    attributes: attributes(s.attributes, `${where}.attributes`, 4),
    droppedAttributesCount: uint(s.droppedAttributesCount, `${where}.droppedAttributesCount`),
  };
}

function resource(v: unknown, where: string): Resource {
  const r = isObj(v) ? v : {};
  return {
    attributes: attributes(r.attributes, `${where}.attributes`, 3),
    droppedAttributesCount: uint(r.droppedAttributesCount, `${where}.droppedAttributesCount`),
  };
}

/** Decodes a parsed OTLP/JSON `ExportTraceServiceRequest`. Throws {@link OtlpDecodeError}. */
export function fromOtlpJson(doc: unknown): SpanBatch {
  if (!isObj(doc)) fail('request', 'must be a JSON object');
  return {
    resourceSpans: list(doc.resourceSpans, 'resourceSpans').map((rs, i): ResourceSpans => {
      const w = `resourceSpans[${i}]`;
      if (!isObj(rs)) fail(w, 'must be an object');
      return {
        resource: resource(rs.resource, `${w}.resource`),
        schemaUrl: str(rs.schemaUrl, `${w}.schemaUrl`),
        scopeSpans: list(rs.scopeSpans, `${w}.scopeSpans`).map((ss, j): ScopeSpans => {
          const w2 = `${w}.scopeSpans[${j}]`;
          if (!isObj(ss)) fail(w2, 'must be an object');
          return {
            scope: scope(ss.scope, `${w2}.scope`),
            schemaUrl: str(ss.schemaUrl, `${w2}.schemaUrl`),
            spans: list(ss.spans, `${w2}.spans`).map((s, k) => span(s, `${w2}.spans[${k}]`)),
          };
        }),
      };
    }),
  };
}

/** Parses and decodes an OTLP/JSON body. */
export function decodeOtlpJson(body: string | Uint8Array): SpanBatch {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (e) {
    throw new OtlpDecodeError(`invalid JSON: ${(e as Error).message}`);
  }
  return fromOtlpJson(doc);
}

// ---------------------------------------------------------------------------------------------
// Encoding (for forwarding and tests).

export function anyValueToJson(v: AttrValue): J {
  if (v === null) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'bigint') return { intValue: v.toString() };
  if (typeof v === 'number') return { doubleValue: Number.isFinite(v) ? v : String(v) };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValueToJson) } };
  if (isKvList(v)) return { kvlistValue: { values: attributesToJson(v) } };
  return {};
}

export function attributesToJson(a: Attributes): J[] {
  return Object.entries(a).map(([key, value]) => ({ key, value: anyValueToJson(value) }));
}

/** Encodes a batch as an OTLP/JSON `ExportTraceServiceRequest` object (JSON.stringify it to send). */
export function toOtlpJson(batch: SpanBatch): J {
  return {
    resourceSpans: batch.resourceSpans.map((rs) => ({
      resource: { attributes: attributesToJson(rs.resource.attributes), droppedAttributesCount: rs.resource.droppedAttributesCount },
      schemaUrl: rs.schemaUrl,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: {
          name: ss.scope.name,
          version: ss.scope.version,
          attributes: attributesToJson(ss.scope.attributes),
          droppedAttributesCount: ss.scope.droppedAttributesCount,
        },
        schemaUrl: ss.schemaUrl,
        spans: ss.spans.map((s) => ({
          traceId: s.traceId,
          spanId: s.spanId,
          traceState: s.traceState,
          parentSpanId: s.parentSpanId,
          flags: s.flags,
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: s.startTimeUnixNano.toString(),
          endTimeUnixNano: s.endTimeUnixNano.toString(),
          attributes: attributesToJson(s.attributes),
          droppedAttributesCount: s.droppedAttributesCount,
          events: s.events.map((e) => ({
            timeUnixNano: e.timeUnixNano.toString(),
            name: e.name,
            attributes: attributesToJson(e.attributes),
            droppedAttributesCount: e.droppedAttributesCount,
          })),
          droppedEventsCount: s.droppedEventsCount,
          links: s.links.map((l) => ({
            traceId: l.traceId,
            spanId: l.spanId,
            traceState: l.traceState,
            attributes: attributesToJson(l.attributes),
            droppedAttributesCount: l.droppedAttributesCount,
            flags: l.flags,
          })),
          droppedLinksCount: s.droppedLinksCount,
          status: { code: s.status.code, message: s.status.message },
        })),
      })),
    })),
  };
}

/**
 * OTLP/protobuf (binary) ⇄ {@link SpanBatch}, with protobufjs and the vendored opentelemetry-proto
 * definitions (see ./proto/). protobufjs generates its decoder/encoder functions once at load time from
 * the JSON descriptor; we then map its message objects to the `spans` data type:
 * ids → lower-case hex, fixed64/int64 → bigint (no precision loss), AnyValue → plain JS values.
 */
import protobuf from 'protobufjs';
import type { AttrValue, Attributes, InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span, SpanBatch, SpanEvent, SpanLink } from '../data/span.js';
import { isKvList, newAttributes } from '../data/span.js';
import { asBuffer, decodeTraceRequest, type DecodeOptions } from './decode.js';
import { OtlpDecodeError } from './json.js';
import { otlpDescriptor } from './proto/descriptor.generated.js';

const root = protobuf.Root.fromJSON(otlpDescriptor);
// google.rpc.Status with google.rpc.RetryInfo (from googleapis' status.proto / error_details.proto, reduced to
// the fields used): the body of OTLP error responses and the gRPC `grpc-status-details-bin` trailer.
root.add(
  protobuf.Namespace.fromJSON('google', {
    nested: {
      protobuf: {
        nested: {
          Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
          Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
        },
      },
      rpc: {
        nested: {
          Status: {
            fields: {
              code: { type: 'int32', id: 1 },
              message: { type: 'string', id: 2 },
              details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
            },
          },
          RetryInfo: { fields: { retryDelay: { type: 'google.protobuf.Duration', id: 1 } } },
        },
      },
    },
  }),
);
root.resolveAll();

const TRACE_V1 = 'opentelemetry.proto.collector.trace.v1';
export const ExportTraceServiceRequest = root.lookupType(`${TRACE_V1}.ExportTraceServiceRequest`);
export const ExportTraceServiceResponse = root.lookupType(`${TRACE_V1}.ExportTraceServiceResponse`);
export const RpcStatus = root.lookupType('google.rpc.Status');

/**
 * The decoder uses a second copy of the schema in which AnyValue's members are plain optional fields
 * instead of a oneof (the same wire format), so that protobufjs' generated decoder skips its oneof
 * bookkeeping (docs/design/decoding.md). The member present is read as an own property (see anyValue below).
 */
function decoderDescriptor(desc: Record<string, unknown>): protobuf.INamespace {
  const copy = JSON.parse(JSON.stringify(desc)) as Record<string, unknown>;
  const path = ['opentelemetry', 'proto', 'common', 'v1', 'AnyValue'];
  let node = copy as { nested?: Record<string, unknown>; oneofs?: unknown; edition?: string };
  for (const k of path) node = node.nested![k] as typeof node;
  delete node.oneofs;
  // Keep explicit presence (as the oneof had): edition 2023 = proto3 semantics with explicit field presence,
  // so a member set to its default (0, "", false) is still decoded as present.
  node.edition = '2023';
  // Strings: invalid UTF-8 becomes U+FFFD instead of failing the whole request, like the JSON path
  // (Buffer → string) does, and it lets protobufjs use Node's native utf8Slice instead of its JS
  // validating decoder. One bad byte in a prompt attribute must not cost a billing span.
  type J = { nested?: Record<string, J>; fields?: Record<string, J>; options?: Record<string, unknown> };
  const lenient = (n: J) => {
    if (n.fields) n.options = { ...n.options, features: { utf8_validation: 'NONE' } };
    for (const c of Object.values(n.nested ?? {})) lenient(c);
  };
  lenient(copy);
  return copy;
}
const decodeRoot = protobuf.Root.fromJSON(decoderDescriptor(otlpDescriptor));
decodeRoot.resolveAll();
/** The reflection type decodeOtlpProto decodes with (exported for bench/decode.ts). */
export const RequestDecoder = decodeRoot.lookupType(`${TRACE_V1}.ExportTraceServiceRequest`);
const RetryInfo = root.lookupType('google.rpc.RetryInfo');
const RETRY_INFO_URL = 'type.googleapis.com/google.rpc.RetryInfo';
/** The gRPC method path of the trace export call. */
export const TRACE_EXPORT_GRPC_PATH = `/${TRACE_V1}.TraceService/Export`;

// ---------------------------------------------------------------------------------------------
// protobufjs message shapes (as produced by the generated decoder, camelCase field names).

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}
type PbLong = LongLike | number;

interface PbAnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: PbLong | null;
  doubleValue?: number | null;
  arrayValue?: { values: PbAnyValue[] } | null;
  kvlistValue?: { values: PbKeyValue[] } | null;
  bytesValue?: Uint8Array | null;
}
interface PbKeyValue {
  key: string;
  value?: PbAnyValue | null;
}
interface PbEvent {
  timeUnixNano: PbLong;
  name: string;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
}
interface PbLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
  flags: number;
}
interface PbSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  parentSpanId: Uint8Array;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: PbLong;
  endTimeUnixNano: PbLong;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
  events: PbEvent[];
  droppedEventsCount: number;
  links: PbLink[];
  droppedLinksCount: number;
  status?: { code: number; message: string } | null;
}
interface PbScope {
  name: string;
  version: string;
  attributes: PbKeyValue[];
  droppedAttributesCount: number;
}
interface PbScopeSpans {
  scope?: PbScope | null;
  spans: PbSpan[];
  schemaUrl: string;
}
interface PbResourceSpans {
  resource?: { attributes: PbKeyValue[]; droppedAttributesCount: number } | null;
  scopeSpans: PbScopeSpans[];
  schemaUrl: string;
}
interface PbRequest {
  resourceSpans: PbResourceSpans[];
}

// ---------------------------------------------------------------------------------------------
// Decoding.

const TWO32 = 4294967296;

function u64(v: PbLong): bigint {
  if (typeof v === 'number') return BigInt(v);
  const hi = v.high >>> 0;
  const lo = v.low >>> 0;
  if (hi === 0) return BigInt(lo);
  if (hi < 0x200000) return BigInt(hi * TWO32 + lo); // < 2^53: exact as a double
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function i64(v: PbLong): bigint {
  if (typeof v === 'number') return BigInt(v);
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
}

/** Where a span sits, for error messages only (built lazily: no string work on the happy path). */
type Loc = readonly [number, number, number];
const locStr = (l: Loc) => `resourceSpans[${l[0]}].scopeSpans[${l[1]}].spans[${l[2]}]`;

function hexId(b: Uint8Array | null | undefined, bytes: number, loc: Loc, field: string): string {
  if (!b || b.length === 0) return '';
  if (b.length !== bytes) throw new OtlpDecodeError(`${locStr(loc)}.${field}: must be ${bytes} bytes, got ${b.length}`);
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('hex');
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- only ever called as has.call(object, key)
const has = Object.prototype.hasOwnProperty;

function anyValue(v: PbAnyValue | null | undefined, depth: number): AttrValue {
  if (v == null) return null;
  // The decoder sets only the oneof member present on the wire as an own property; absent members
  // read as defaults from the prototype, so test own properties (cheaper than protobufjs' `value`
  // getter, which allocates Object.keys per call). Should a sender set several members (the schema says
  // oneof), the first of them in the order tested here wins; decode.ts does the same.
  if (has.call(v, 'stringValue')) return v.stringValue!;
  if (has.call(v, 'intValue')) return i64(v.intValue!);
  if (has.call(v, 'doubleValue')) return v.doubleValue!;
  if (has.call(v, 'boolValue')) return v.boolValue!;
  if (has.call(v, 'arrayValue')) {
    if (depth > 64) throw new OtlpDecodeError('attribute value nested too deeply');
    const src = v.arrayValue!.values;
    const out = new Array<AttrValue>(src.length);
    for (let i = 0; i < src.length; i++) out[i] = anyValue(src[i], depth + 1);
    return out;
  }
  if (has.call(v, 'kvlistValue')) {
    if (depth > 64) throw new OtlpDecodeError('attribute value nested too deeply');
    return attributes(v.kvlistValue!.values, depth + 1, Object.create(null) as Record<string, AttrValue>);
  }
  // Copy so that a small value does not keep the whole request buffer alive.
  if (has.call(v, 'bytesValue')) return new Uint8Array(v.bytesValue!);
  return null;
}

/** Attribute map (a kvlist value is given its own `out`: those keep a null prototype). */
function attributes(kvs: PbKeyValue[], depth = 0, out: Record<string, AttrValue> = newAttributes()): Attributes {
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!;
    out[kv.key] = anyValue(kv.value, depth);
  }
  return out;
}

function span(s: PbSpan, loc: Loc): Span {
  const events = new Array<SpanEvent>(s.events.length);
  for (let i = 0; i < events.length; i++) {
    const e = s.events[i]!;
    events[i] = { timeUnixNano: u64(e.timeUnixNano), name: e.name, attributes: attributes(e.attributes), droppedAttributesCount: e.droppedAttributesCount };
  }
  const links = new Array<SpanLink>(s.links.length);
  for (let i = 0; i < links.length; i++) {
    const l = s.links[i]!;
    links[i] = {
      traceId: hexId(l.traceId, 16, loc, `links[${i}].traceId`),
      spanId: hexId(l.spanId, 8, loc, `links[${i}].spanId`),
      traceState: l.traceState,
      attributes: attributes(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount,
      flags: l.flags,
    };
  }
  return {
    traceId: hexId(s.traceId, 16, loc, 'traceId'),
    spanId: hexId(s.spanId, 8, loc, 'spanId'),
    traceState: s.traceState,
    parentSpanId: hexId(s.parentSpanId, 8, loc, 'parentSpanId'),
    flags: s.flags,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: u64(s.startTimeUnixNano),
    endTimeUnixNano: u64(s.endTimeUnixNano),
    attributes: attributes(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events,
    droppedEventsCount: s.droppedEventsCount,
    links,
    droppedLinksCount: s.droppedLinksCount,
    status: s.status ? { code: s.status.code, message: s.status.message } : { code: 0, message: '' },
  };
}

function scope(s: PbScope | null | undefined): InstrumentationScope {
  if (!s) return { name: '', version: '', attributes: newAttributes(), droppedAttributesCount: 0 };
  return { name: s.name, version: s.version, attributes: attributes(s.attributes), droppedAttributesCount: s.droppedAttributesCount };
}

function resource(r: PbResourceSpans['resource']): Resource {
  if (!r) return { attributes: newAttributes(), droppedAttributesCount: 0 };
  return { attributes: attributes(r.attributes), droppedAttributesCount: r.droppedAttributesCount };
}

/**
 * Decodes a binary OTLP `ExportTraceServiceRequest`. Throws {@link OtlpDecodeError} on malformed input.
 * Uses the single-pass decoder of ./decode.ts, which gives the same results and errors as
 * {@link decodeOtlpProtoReference} with far fewer allocations.
 */
export function decodeOtlpProto(buf: Uint8Array, opts?: DecodeOptions): SpanBatch {
  return decodeTraceRequest(buf, opts);
}

/**
 * The reference decoder: protobufjs' generated message decoder, then a conversion of its message objects to
 * a SpanBatch. Kept for tests (the single-pass decoder must agree with it) and bench/decode.ts.
 */
export function decodeOtlpProtoReference(buf: Uint8Array): SpanBatch {
  let msg: PbRequest;
  try {
    // A Buffer, so that strings go through Node's utf8Slice (invalid UTF-8 → U+FFFD) for any input type.
    msg = RequestDecoder.decode(asBuffer(buf)) as unknown as PbRequest;
  } catch (e) {
    throw new OtlpDecodeError(`invalid protobuf: ${(e as Error).message}`);
  }
  const rss = msg.resourceSpans;
  const resourceSpans = new Array<ResourceSpans>(rss.length);
  for (let i = 0; i < rss.length; i++) {
    const rs = rss[i]!;
    const scopeSpans = new Array<ScopeSpans>(rs.scopeSpans.length);
    for (let j = 0; j < scopeSpans.length; j++) {
      const ss = rs.scopeSpans[j]!;
      const spans = new Array<Span>(ss.spans.length);
      for (let k = 0; k < spans.length; k++) spans[k] = span(ss.spans[k]!, [i, j, k]);
      scopeSpans[j] = { scope: scope(ss.scope), schemaUrl: ss.schemaUrl, spans };
    }
    resourceSpans[i] = { resource: resource(rs.resource), schemaUrl: rs.schemaUrl, scopeSpans };
  }
  return { resourceSpans };
}

// ---------------------------------------------------------------------------------------------
// Encoding.

const MASK32 = 0xffffffffn;

function long(v: bigint, unsigned: boolean): LongLike {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & MASK32) | 0, high: Number(u >> 32n) | 0, unsigned };
}

function idBytes(hex: string): Uint8Array {
  return hex ? Buffer.from(hex, 'hex') : new Uint8Array(0);
}

function anyValueToPb(v: AttrValue): PbAnyValue {
  if (v === null) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'bigint') return { intValue: long(v, false) };
  if (typeof v === 'number') return { doubleValue: v };
  if (v instanceof Uint8Array) return { bytesValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValueToPb) } };
  if (isKvList(v)) return { kvlistValue: { values: attributesToPb(v) } };
  return {};
}

function attributesToPb(a: Attributes): PbKeyValue[] {
  const out: PbKeyValue[] = [];
  for (const key in a) out.push({ key, value: anyValueToPb(a[key]!) });
  return out;
}

/** Converts a batch to the plain object protobufjs encodes (exported for tests). */
export function toPbObject(batch: SpanBatch): PbRequest {
  return {
    resourceSpans: batch.resourceSpans.map((rs) => ({
      resource: { attributes: attributesToPb(rs.resource.attributes), droppedAttributesCount: rs.resource.droppedAttributesCount },
      schemaUrl: rs.schemaUrl,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: {
          name: ss.scope.name,
          version: ss.scope.version,
          attributes: attributesToPb(ss.scope.attributes),
          droppedAttributesCount: ss.scope.droppedAttributesCount,
        },
        schemaUrl: ss.schemaUrl,
        spans: ss.spans.map((s) => ({
          traceId: idBytes(s.traceId),
          spanId: idBytes(s.spanId),
          traceState: s.traceState,
          parentSpanId: idBytes(s.parentSpanId),
          flags: s.flags,
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: long(s.startTimeUnixNano, true),
          endTimeUnixNano: long(s.endTimeUnixNano, true),
          attributes: attributesToPb(s.attributes),
          droppedAttributesCount: s.droppedAttributesCount,
          events: s.events.map((e) => ({
            timeUnixNano: long(e.timeUnixNano, true),
            name: e.name,
            attributes: attributesToPb(e.attributes),
            droppedAttributesCount: e.droppedAttributesCount,
          })),
          droppedEventsCount: s.droppedEventsCount,
          links: s.links.map((l) => ({
            traceId: idBytes(l.traceId),
            spanId: idBytes(l.spanId),
            traceState: l.traceState,
            attributes: attributesToPb(l.attributes),
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

/** Encodes a batch as a binary OTLP `ExportTraceServiceRequest`. */
export function encodeOtlpProto(batch: SpanBatch): Uint8Array {
  return ExportTraceServiceRequest.encode(toPbObject(batch)).finish();
}

// ---------------------------------------------------------------------------------------------
// Responses.

export interface ExportResponse {
  /** Set when some spans were rejected; absent for full success. */
  partialSuccess?: { rejectedSpans: number; errorMessage: string };
}

/** Encodes an `ExportTraceServiceResponse` (an empty message for full success). */
export function encodeExportResponseProto(r: ExportResponse = {}): Uint8Array {
  const obj = r.partialSuccess ? { partialSuccess: { rejectedSpans: r.partialSuccess.rejectedSpans, errorMessage: r.partialSuccess.errorMessage } } : {};
  return ExportTraceServiceResponse.encode(obj).finish();
}

/** Decodes an `ExportTraceServiceResponse`. */
export function decodeExportResponseProto(buf: Uint8Array): ExportResponse {
  const m = ExportTraceServiceResponse.decode(buf) as unknown as { partialSuccess?: { rejectedSpans: PbLong; errorMessage: string } | null };
  if (!m.partialSuccess) return {};
  return { partialSuccess: { rejectedSpans: Number(i64(m.partialSuccess.rejectedSpans)), errorMessage: m.partialSuccess.errorMessage } };
}

/** The OTLP/JSON form of an `ExportTraceServiceResponse`. */
export function exportResponseJson(r: ExportResponse = {}): Record<string, unknown> {
  return r.partialSuccess ? { partialSuccess: { rejectedSpans: String(r.partialSuccess.rejectedSpans), errorMessage: r.partialSuccess.errorMessage } } : {};
}

/**
 * Encodes a `google.rpc.Status` (the body of OTLP/HTTP error responses, and gRPC's
 * `grpc-status-details-bin`); with `retryAfterSeconds`, a `google.rpc.RetryInfo` detail tells OTLP
 * clients that the request may be retried and when.
 */
export function encodeRpcStatusProto(code: number, message: string, retryAfterSeconds?: number): Uint8Array {
  const details =
    retryAfterSeconds === undefined
      ? []
      : [{ typeUrl: RETRY_INFO_URL, value: RetryInfo.encode({ retryDelay: { seconds: retryAfterSeconds, nanos: 0 } }).finish() }];
  return RpcStatus.encode({ code, message, details }).finish();
}

export function decodeRpcStatusProto(buf: Uint8Array): { code: number; message: string; retryAfterSeconds?: number } {
  const m = RpcStatus.decode(buf) as unknown as { code: number; message: string; details: { typeUrl: string; value: Uint8Array }[] };
  const out: { code: number; message: string; retryAfterSeconds?: number } = { code: m.code, message: m.message };
  for (const d of m.details) {
    if (d.typeUrl !== RETRY_INFO_URL) continue;
    const r = RetryInfo.decode(d.value) as unknown as { retryDelay?: { seconds: PbLong } | null };
    if (r.retryDelay) out.retryAfterSeconds = Number(i64(r.retryDelay.seconds));
  }
  return out;
}

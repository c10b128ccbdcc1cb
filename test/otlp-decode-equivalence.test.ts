/**
 * The single-pass protobuf decoder (src/otlp/decode.ts, what decodeOtlpProto uses) against the reference
 * (protobufjs' generated message decoder + conversion, decodeOtlpProtoReference): on random valid requests
 * both give the same SpanBatch (and the one that was encoded); on random malformed or unusual wire data
 * (mutated requests, random field soups with unknown fields, wrong wire types, repeated singular fields,
 * groups, deep nesting) both either give the same SpanBatch or both throw OtlpDecodeError with the same
 * message — and neither ever throws anything else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { kvlist, newAttributes, type AttrValue, type Attributes, type Span, type SpanBatch } from '../src/data/span.js';
import { OtlpDecodeError, decodeOtlpProto, encodeOtlpProto } from '../src/otlp/index.js';
import { resetStringCaches, stringCacheSlots } from '../src/otlp/decode.js';
import { decodeOtlpProtoReference } from '../src/otlp/proto.js';

type Outcome = { ok: true; batch: SpanBatch } | { ok: false; message: string };

function outcome(decode: (b: Uint8Array) => SpanBatch, bytes: Uint8Array): Outcome {
  try {
    return { ok: true, batch: decode(bytes) };
  } catch (e) {
    assert.ok(e instanceof OtlpDecodeError, `only OtlpDecodeError may escape, got ${(e as Error | null)?.stack ?? String(e)}`);
    return { ok: false, message: e.message };
  }
}

/** Span attributes kept by the projection checks: keys the generators draw, and the empty key (random soups make it). */
const WANTED: ReadonlySet<string> = new Set(['gen_ai.usage.prompt_tokens', 'team-1', '']);

/** An outcome with every span's own attributes cut down to {@link WANTED} (errors unchanged). */
function projected(o: Outcome): Outcome {
  if (!o.ok) return o;
  const keep = (a: Attributes) => Object.assign(newAttributes(), Object.fromEntries(Object.entries(a).filter(([k]) => WANTED.has(k))));
  return {
    ok: true,
    batch: {
      resourceSpans: o.batch.resourceSpans.map((rs) => ({
        ...rs,
        scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.map((sp) => ({ ...sp, attributes: keep(sp.attributes) })) })),
      })),
    },
  };
}

/** The selector of the span-selection checks: wanted keys the generators draw (a span with either is kept). */
const SELECTOR: ReadonlySet<string> = new Set(['team-1', 'gen_ai.usage.prompt_tokens']);

/**
 * {@link projected}, and the spans without any non-null {@link SELECTOR} attribute left out and counted
 * in `omitted` (with both ids, or without one), as the decoder does with `spanSelector`.
 */
function selected(o: Outcome): Outcome {
  const p = projected(o);
  if (!p.ok) return p;
  let valid = 0;
  let invalid = 0;
  const chosen = (sp: Span) => {
    for (const k of SELECTOR) {
      const v = sp.attributes[k];
      if (v !== undefined && v !== null) return true;
    }
    if (sp.traceId !== '' && sp.spanId !== '') valid++;
    else invalid++;
    return false;
  };
  const batch: SpanBatch = {
    resourceSpans: p.batch.resourceSpans.map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.filter(chosen) })) })),
  };
  if (valid + invalid > 0) batch.omitted = { valid, invalid };
  return { ok: true, batch };
}

/**
 * Both decoders on the same bytes (as a Buffer and as a plain Uint8Array): identical outcomes. With
 * `spanAttributes`, the single-pass decoder gives the reference's outcome with the span attributes
 * cut down: the same error, or the same batch but for the attributes left out; with `spanSelector`
 * too, also without the spans that lack the selector (counted), or the same error.
 */
function assertAgree(bytes: Uint8Array): Outcome {
  const ref = outcome(decodeOtlpProtoReference, bytes);
  const fast = outcome(decodeOtlpProto, bytes);
  assert.deepStrictEqual(fast, ref);
  const plain = new Uint8Array(bytes); // not a Buffer
  assert.deepStrictEqual(outcome(decodeOtlpProto, plain), ref);
  assert.deepStrictEqual(
    outcome((b) => decodeOtlpProto(b, { spanAttributes: WANTED }), bytes),
    projected(ref),
  );
  assert.deepStrictEqual(
    outcome((b) => decodeOtlpProto(b, { spanAttributes: WANTED, spanSelector: SELECTOR }), bytes),
    selected(ref),
  );
  return ref;
}

// ---------------------------------------------------------------------------------------------
// Random valid batches.

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const id = (bytes: number) => fc.oneof({ weight: 4, arbitrary: hex(bytes) }, { weight: 1, arbitrary: fc.constant('') });
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('gen_ai.usage.prompt_tokens', 'gpt-4o', 'litellm_request', 'team-1', ''),
);
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const i64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -300n, max: 300n }), fc.bigInt({ min: 0n, max: 2n ** 35n }));
const u32 = fc.nat({ max: 2 ** 32 - 1 });

const { value: attrValue } = fc.letrec<{ value: AttrValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.boolean(),
    i64,
    fc.double(),
    fc.uint8Array({ maxLength: 8 }),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(text, tie('value')), { maxLength: 4 }).map((e) => kvlist(e)),
  ),
}));
const attributes: fc.Arbitrary<Attributes> = fc
  .array(fc.tuple(text, attrValue), { maxLength: 6 })
  .map((e) => Object.assign(newAttributes(), Object.fromEntries(e)));

const span: fc.Arbitrary<Span> = fc.record({
  traceId: id(16),
  spanId: id(8),
  traceState: text,
  parentSpanId: id(8),
  flags: u32,
  name: text,
  kind: fc.integer({ min: 0, max: 5 }),
  startTimeUnixNano: u64,
  endTimeUnixNano: u64,
  attributes,
  droppedAttributesCount: u32,
  events: fc.array(fc.record({ timeUnixNano: u64, name: text, attributes, droppedAttributesCount: u32 }), { maxLength: 2 }),
  droppedEventsCount: u32,
  links: fc.array(fc.record({ traceId: id(16), spanId: id(8), traceState: text, attributes, droppedAttributesCount: u32, flags: u32 }), { maxLength: 2 }),
  droppedLinksCount: u32,
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: text }),
});

const batch: fc.Arbitrary<SpanBatch> = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes, droppedAttributesCount: u32 }),
      schemaUrl: text,
      scopeSpans: fc.array(
        fc.record({
          scope: fc.record({ name: text, version: text, attributes, droppedAttributesCount: u32 }),
          schemaUrl: text,
          spans: fc.array(span, { maxLength: 4 }),
        }),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 3 },
  ),
});

// ---------------------------------------------------------------------------------------------
// Random wire data: a soup of fields with any number and wire type, nested at random.

type Field = { n: number; w: 0 | 1 | 2 | 5; v: number | bigint | Uint8Array | Field[] } | { n: number; w: 3; v: Field[] };

const { fields } = fc.letrec<{ fields: Field[]; field: Field }>((tie) => ({
  field: fc.oneof(
    { depthSize: 'small' },
    fc.record({ n: fc.integer({ min: 0, max: 17 }), w: fc.constant(0 as const), v: fc.oneof(u32, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })) }),
    fc.record({ n: fc.integer({ min: 1, max: 17 }), w: fc.constant(1 as const), v: u64 }),
    fc.record({ n: fc.integer({ min: 1, max: 17 }), w: fc.constant(5 as const), v: u32 }),
    fc.record({ n: fc.integer({ min: 1, max: 17 }), w: fc.constant(2 as const), v: fc.uint8Array({ maxLength: 24 }) }),
    fc.record({ n: fc.integer({ min: 1, max: 17 }), w: fc.constant(2 as const), v: tie('fields') }),
    fc.record({ n: fc.integer({ min: 1, max: 17 }), w: fc.constant(3 as const), v: tie('fields') }),
  ),
  fields: fc.array(tie('field'), { maxLength: 5 }),
}));

function write(w: protobuf.Writer, fs: Field[]): protobuf.Writer {
  for (const f of fs) {
    w.uint32(((f.n << 3) | f.w) >>> 0);
    if (f.w === 0) w.uint64(typeof f.v === 'bigint' ? f.v.toString() : (f.v as number));
    else if (f.w === 1) w.fixed64((f.v as bigint).toString());
    else if (f.w === 5) w.fixed32(f.v as number);
    else if (f.w === 3) write(w, f.v).uint32(((f.n << 3) | 4) >>> 0);
    else if (f.v instanceof Uint8Array) w.bytes(f.v);
    else w.bytes(write(protobuf.Writer.create(), f.v as Field[]).finish());
  }
  return w;
}

/** Wraps a soup at a real position of the schema so that it meets the real decoders' field handling. */
const PATHS: number[][] = [
  [],
  [1],
  [1, 1],
  [1, 2],
  [1, 2, 1],
  [1, 2, 2],
  [1, 2, 2, 9],
  [1, 2, 2, 9, 2],
  [1, 2, 2, 11],
  [1, 2, 2, 13],
  [1, 2, 2, 15],
  [1, 2, 2, 9, 2, 5],
  [1, 2, 2, 9, 2, 6, 1],
];
function atPath(path: number[], inner: Uint8Array): Uint8Array {
  let b = inner;
  for (let i = path.length - 1; i >= 0; i--)
    b = protobuf.Writer.create()
      .uint32(((path[i]! << 3) | 2) >>> 0)
      .bytes(b)
      .finish();
  return b;
}

/** Byte-level mutations of a valid request. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 6 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(src: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Buffer.from(src);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] = m.byte;
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
  }
  return b;
}

describe('single-pass protobuf decoder vs the protobufjs reference', () => {
  it('decodes random valid requests exactly as the reference, and as encoded', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const bytes = encodeOtlpProto(b);
        const got = assertAgree(bytes);
        assert.ok(got.ok);
        // Strings with lone surrogates cannot survive UTF-8; compare with what the encoder could carry.
        const expected = JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v));
        const actual = JSON.stringify(got.batch, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v));
        if (!/[\ud800-\udfff]/.test(expected)) assert.equal(actual, expected);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the reference on mutated requests (same batch or same error)', () => {
    let rejected = 0;
    let runs = 0;
    fc.assert(
      fc.property(batch, fc.array(mutation, { minLength: 1, maxLength: 3 }), (b, ms) => {
        runs++;
        if (!assertAgree(mutate(encodeOtlpProto(b), ms)).ok) rejected++;
      }),
      { numRuns: 600 },
    );
    assert.ok(rejected > runs / 10, `mutations should often make input malformed (${rejected}/${runs})`);
  });

  it('agrees with the reference on random field soups at every position of the schema', () => {
    let rejected = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), fields, (path, fs) => {
        const r = assertAgree(atPath(path, write(protobuf.Writer.create(), fs).finish()));
        if (r.ok) accepted++;
        else rejected++;
      }),
      { numRuns: 1500 },
    );
    assert.ok(accepted > 0 && rejected > 0, `both outcomes should occur (accepted ${accepted}, rejected ${rejected})`);
  });

  it('string cache: strings of the same two slots, invalid UTF-8 and non-ASCII are decoded as Node decodes them, for Buffers and plain Uint8Arrays', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    // 16 bytes that differ only in bytes 4 and 5, which the slot hash does not read (it reads the first,
    // the middle and the last four): the same two slots for all, for the key and for the value.
    const variants = ['abcdefghijklmnop', 'abcdXfghijklmnop', 'abcd\xfffghijklmnop', 'abcd\xc3fghijklmnop', 'abcd\u00e9ghijklmnop'].map((v) =>
      v.includes('\u00e9') ? Buffer.from(v) : Buffer.from(v, 'latin1'),
    );
    for (const v of variants) assert.deepEqual(stringCacheSlots(v), stringCacheSlots(variants[0]!));
    const kvs = variants.map((v, i) =>
      ld(
        9,
        cat(
          ld(1, v),
          ld(2, ld(1, v)),
          W()
            .uint32(3 << 3)
            .uint32(i)
            .finish(),
        ),
      ),
    );
    // The attributes: key → value; each key is its own value, the last keyStrindex field is ignored.
    const body = ld(1, ld(2, ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 1)), ...kvs, ...kvs))));
    for (const input of [body, new Uint8Array(body)]) {
      resetStringCaches();
      const r = assertAgree(input);
      assert.ok(r.ok);
      const attrs = r.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
      assert.deepEqual(Object.entries(attrs), [
        ['abcdefghijklmnop', 'abcdefghijklmnop'],
        ['abcdXfghijklmnop', 'abcdXfghijklmnop'],
        ['abcd\ufffdfghijklmnop', 'abcd\ufffdfghijklmnop'], // 0xff and a lone 0xc3 both become U+FFFD
        ['abcdéghijklmnop', 'abcdéghijklmnop'],
      ]);
    }
  });

  it('string cache: strings competing for a slot that differ only in a later word, in the last bytes or past 48 bytes', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    /** The first variant of `base` with other characters at `at` whose first slot is `base`'s. */
    const rival = (base: string, at: number[]): string => {
      const want = stringCacheSlots(Buffer.from(base))[0];
      const chars = base.split('');
      for (let i = 0; i < ALNUM.length ** at.length; i++) {
        let x = i;
        for (const p of at) {
          chars[p] = ALNUM[x % ALNUM.length]!;
          x = Math.floor(x / ALNUM.length);
        }
        const v = chars.join('');
        if (v !== base && stringCacheSlots(Buffer.from(v))[0] === want) return v;
      }
      throw new Error(`no rival for ${base}`);
    };
    // Each group keeps the first slot and changes bytes elsewhere: in the second 4-byte word (not read by
    // the hash: same two slots), in the 1–3 bytes after the last whole word, at the cache's size limit and
    // just past it (not cached). Within a group, each string is looked up in the slot its neighbour holds.
    const long = 'k'.repeat(47);
    const groups = [
      ['abcdefghijklmnop', 'abcdXfghijklmnop', 'abcdefghijklmnop'],
      ['abcdefghijk', rival('abcdefghijk', [9, 10]), 'abcdefghijk', 'abcdefghi\u00e9'],
      [`${long}x`, rival(`${long}x`, [46, 47]), `${long}x`],
      [`${long}xy`, `${long}Qy`, `${long}xy`],
    ];
    assert.deepEqual(stringCacheSlots(Buffer.from(groups[0]![1]!)), stringCacheSlots(Buffer.from(groups[0]![0]!)));
    const strings = groups.flat();
    const kvs = strings.map((v) => ld(9, cat(ld(1, Buffer.from(v)), ld(2, ld(1, Buffer.from(`${v}|${v.length}`))))));
    const values = strings.map((v) => ld(9, cat(ld(1, Buffer.from(`key ${v}`)), ld(2, ld(1, Buffer.from(v))))));
    const body = ld(1, ld(2, ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 1)), ...kvs, ...values))));
    for (const input of [body, new Uint8Array(body)]) {
      resetStringCaches();
      const r = assertAgree(input);
      assert.ok(r.ok);
      const attrs = r.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
      for (const v of strings) {
        assert.equal(attrs[v], `${v}|${v.length}`);
        assert.equal(attrs[`key ${v}`], v);
      }
    }
  });

  it('string cache: more strings of the same two slots than slots, interleaved and evicting each other, are decoded exactly', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    const span = (attrs: Uint8Array[]) => ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 1)), ...attrs));
    const body = (spans: Uint8Array[]) => ld(1, ld(2, cat(...spans)));
    // Bytes 4–5 are not read by the hash: four keys and four values of the same two slots.
    const names = ['ab', 'cd', 'ef', 'gh'].map((x) => `keys${x}-and-more`);
    const kv = (k: string, v: string) => ld(9, cat(ld(1, Buffer.from(k)), ld(2, ld(1, Buffer.from(v)))));
    const interleaved = Array.from({ length: 24 }, (_, i) => kv(names[i % 4]!, names[(i * 3) % 4]!));
    resetStringCaches();
    const r = assertAgree(body([span(interleaved), span(interleaved)]));
    assert.ok(r.ok);
    for (const s of r.batch.resourceSpans[0]!.scopeSpans[0]!.spans) assert.deepEqual(Object.keys(s.attributes), names);
    // Two strings of one pair of slots both stay cached: the same string objects come back, in any order.
    resetStringCaches();
    const two = assertAgree(body([span([kv(names[0]!, 'x'), kv(names[1]!, 'y')]), span([kv(names[1]!, 'y'), kv(names[0]!, 'x')])]));
    assert.ok(two.ok);
    const [s1, s2] = two.batch.resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.deepEqual(Object.keys(s1!.attributes), names.slice(0, 2));
    assert.deepEqual(Object.keys(s2!.attributes), [names[1], names[0]]);
    // A third string evicts one of the two; whichever it was, every later lookup is exact.
    resetStringCaches();
    const three = assertAgree(body([span([kv(names[0]!, 'x'), kv(names[1]!, 'y'), kv(names[2]!, 'z'), kv(names[1]!, 'w'), kv(names[0]!, 'v')])]));
    assert.ok(three.ok);
    assert.deepEqual(
      three.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes,
      Object.assign(newAttributes(), { [names[0]!]: 'v', [names[1]!]: 'w', [names[2]!]: 'z' }),
    );
  });

  it('keeps only the wanted span attributes, whatever the order of key and value fields', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    const str = (n: number, s: string) =>
      W()
        .uint32((n << 3) | 2)
        .string(s)
        .finish();
    const key = (k: string) => str(1, k);
    const val = (s: string) => ld(2, str(1, s));
    const kv = (...fields: Uint8Array[]) => ld(9, cat(...fields));
    const body = ld(
      1,
      cat(
        ld(1, ld(1, cat(key('service'), val('resource attributes are kept whole')))),
        ld(
          2,
          ld(
            2,
            cat(
              ld(1, Buffer.alloc(16, 1)),
              ld(2, Buffer.alloc(8, 2)),
              kv(key('team-1'), val('a')), // key first, wanted
              kv(key('gen_ai.prompt'), val('dropped')), // key first, not wanted: value skipped
              kv(val('b'), key('gen_ai.usage.prompt_tokens')), // value first, wanted
              kv(val('dropped too'), key('other')), // value first, not wanted
              kv(key('other'), val('c'), key('')), // skipped under 'other', then the key became a wanted one
              kv(key('team-1'), val('x'), key('other')), // wanted first, then not: left out
              ld(11, cat(str(2, 'event'), ld(3, cat(key('event attributes are kept whole'), val('e'))))),
            ),
          ),
        ),
      ),
    );
    const full = assertAgree(body);
    assert.ok(full.ok);
    const got = decodeOtlpProto(body, { spanAttributes: WANTED }).resourceSpans[0]!;
    assert.deepEqual(Object.entries(got.scopeSpans[0]!.spans[0]!.attributes), [
      ['team-1', 'a'],
      ['gen_ai.usage.prompt_tokens', 'b'],
      ['', 'c'],
    ]);
    assert.deepEqual(Object.keys(got.resource.attributes), ['service']);
    assert.deepEqual(Object.keys(got.scopeSpans[0]!.spans[0]!.events[0]!.attributes), ['event attributes are kept whole']);
    // A malformed value under an unwanted key is refused as without the option.
    const bad = ld(1, ld(2, ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 2)), kv(key('not wanted'), ld(2, Buffer.from([0x0a, 0x05, 0x61])))))));
    assert.equal(assertAgree(bad).ok, false);
    assert.throws(() => decodeOtlpProto(bad, { spanAttributes: WANTED }), /index out of range/);
  });

  it('KeyValue fast path: agrees at each of its bounds (varint lengths, field order and repeats, members, non-minimal encodings)', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    const str = (n: number, s: string) =>
      W()
        .uint32((n << 3) | 2)
        .string(s)
        .finish();
    const raw = (...bytes: number[]) => Buffer.from(bytes);
    const varint = (n: number, v: number | bigint) =>
      W()
        .uint32(n << 3)
        .uint64(typeof v === 'bigint' ? v.toString() : v)
        .finish();
    const double = (v: number) =>
      W()
        .uint32((4 << 3) | 1)
        .double(v)
        .finish();
    // A span with two KeyValues: `body` (field 9's content) and a well-formed one after it, so that a
    // fast path that read too much or too little shows up in the next attribute too.
    const span = (body: Uint8Array) =>
      ld(1, ld(2, ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 2)), ld(9, body), ld(9, cat(str(1, 'team-1'), ld(2, str(1, 'after'))))))));
    const key = str(1, 'gen_ai.usage.prompt_tokens');
    const cases: Record<string, Uint8Array> = {
      string: cat(key, ld(2, str(1, 'v'))),
      'empty string': cat(key, ld(2, str(1, ''))),
      'no member (null)': cat(key, ld(2, raw())),
      'no value field': key,
      'no key field': ld(2, str(1, 'v')),
      'value before key': cat(ld(2, str(1, 'v')), key),
      'two values': cat(key, ld(2, str(1, 'a')), ld(2, str(1, 'b'))),
      'two keys': cat(key, str(1, 'team-1'), ld(2, str(1, 'v'))),
      'key_strindex after': cat(key, ld(2, str(1, 'v')), varint(3, 1)),
      'two members': cat(key, ld(2, cat(str(1, 'v'), varint(3, 7)))),
      'bool true': cat(key, ld(2, varint(2, 1))),
      'bool false': cat(key, ld(2, varint(2, 0))),
      'bool as a 2-byte varint': cat(key, ld(2, raw(0x10, 0x81, 0x00))),
      'int below 2^28 (4 bytes)': cat(key, ld(2, varint(3, 2 ** 28 - 1))),
      'int of 2^28 (5 bytes)': cat(key, ld(2, varint(3, 2 ** 28))),
      'int of 2^31': cat(key, ld(2, varint(3, 2 ** 31))),
      'int of 2^35': cat(key, ld(2, varint(3, 2 ** 35))),
      'negative int (10 bytes)': cat(key, ld(2, varint(3, -5n))),
      'int as a non-minimal varint': cat(key, ld(2, raw(0x18, 0x85, 0x80, 0x00))),
      double: cat(key, ld(2, double(0.25))),
      'double NaN': cat(key, ld(2, double(NaN))),
      'double cut short': cat(key, ld(2, raw(0x21, 1, 2, 3))),
      'double, then a string member': cat(key, ld(2, cat(double(2), str(1, 's')))),
      'no member, then another key': cat(key, ld(2, raw()), str(1, 'team-1')),
      array: cat(key, ld(2, ld(5, ld(1, str(1, 'x'))))),
      kvlist: cat(key, ld(2, ld(6, ld(1, cat(str(1, 'k'), ld(2, str(1, 'x'))))))),
      bytes: cat(key, ld(2, ld(7, raw(1, 2)))),
      'key of 200 bytes (2-byte length)': cat(str(1, 'k'.repeat(200)), ld(2, str(1, 'v'))),
      'value of 20,000 bytes (3-byte length)': cat(key, ld(2, str(1, 'v'.repeat(20_000)))),
      'value of 2^21 bytes (4-byte length)': cat(key, ld(2, str(1, 'v'.repeat(2 ** 21)))),
      'key tag as a non-minimal varint': cat(raw(0x8a, 0x00), W().string('gen_ai.usage.prompt_tokens').finish(), ld(2, str(1, 'v'))),
      'value length past the message': cat(key, raw(0x12, 0x05), str(1, 'v')),
      'string length past the value': cat(key, ld(2, raw(0x0a, 0x09, 0x61))),
      'unknown member field': cat(key, ld(2, varint(9, 1))),
      'wrong wire type for the key': cat(raw(0x08, 0x01), ld(2, str(1, 'v'))),
    };
    for (const [name, body] of Object.entries(cases)) {
      const r = assertAgree(span(body));
      if (r.ok) assert.equal(r.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes['team-1'], 'after', name);
    }
    // A KeyValue claiming one byte past its span, whose lengths inside all agree with that claim (the
    // byte past the span is the scope's next field): refused, as by the reference.
    const kvBody = cat(key, raw(0x12, 5, 0x0a, 3, 0x76, 0x76));
    const overrun = ld(
      1,
      ld(2, cat(ld(2, cat(ld(1, Buffer.alloc(16, 1)), ld(2, Buffer.alloc(8, 2)), raw(0x4a, kvBody.length + 1), kvBody)), str(3, 'schema'))),
    );
    assert.equal(assertAgree(overrun).ok, false);
    // The KeyValue's own length as a 4-byte varint (a message of 2^21 bytes or more).
    assert.ok(assertAgree(span(cat(key, ld(2, str(1, 'w'.repeat(2 ** 21 + 10)))))).ok);
  });

  it('agrees on the tricky cases: merged singular fields, several AnyValue members, deep nesting, bad ids', () => {
    const W = () => protobuf.Writer.create();
    const ld = (n: number, b: Uint8Array) =>
      W()
        .uint32((n << 3) | 2)
        .bytes(b)
        .finish();
    const cat = (...bs: Uint8Array[]) => Buffer.concat(bs);
    const str = (n: number, s: string) =>
      W()
        .uint32((n << 3) | 2)
        .string(s)
        .finish();
    const kv = (key: string, any: Uint8Array) => cat(str(1, key), ld(2, any));
    const span = (...fieldsBytes: Uint8Array[]) => ld(1, ld(2, ld(2, cat(...fieldsBytes))));
    const id16 = ld(1, Buffer.alloc(16, 1));
    const id8 = ld(2, Buffer.alloc(8, 2));

    // An attribute whose value occurs twice, with different and equal members, and an AnyValue with several members.
    const arr = (...items: Uint8Array[]) => ld(5, cat(...items.map((i) => ld(1, i))));
    const twice = span(
      id16,
      id8,
      ld(9, cat(kv('a', arr(str(1, 'x'))), ld(2, arr(str(1, 'y'))))),
      ld(
        9,
        kv(
          'b',
          cat(
            W()
              .uint32(3 << 3)
              .uint32(5)
              .finish(),
            str(1, 's'),
          ),
        ),
      ),
    );
    const r1 = assertAgree(twice);
    assert.ok(r1.ok);
    const attrs = r1.batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
    assert.deepEqual(attrs.a, ['x', 'y'], 'a repeated arrayValue is concatenated');
    assert.equal(attrs.b, 's', 'stringValue takes precedence over intValue');

    // Status, resource and scope occurring twice are merged.
    const merged = ld(
      1,
      cat(
        ld(1, ld(1, kv('r1', str(1, 'a')))),
        ld(1, ld(1, kv('r2', str(1, 'b')))),
        ld(
          2,
          cat(
            ld(1, str(1, 'scope')),
            ld(1, str(2, 'v1')),
            ld(
              2,
              cat(
                id16,
                id8,
                ld(15, str(2, 'm')),
                ld(
                  15,
                  W()
                    .uint32(3 << 3)
                    .uint32(2)
                    .finish(),
                ),
              ),
            ),
          ),
        ),
      ),
    );
    const r2 = assertAgree(merged);
    assert.ok(r2.ok);
    const rs = r2.batch.resourceSpans[0]!;
    assert.deepEqual(Object.keys(rs.resource.attributes), ['r1', 'r2']);
    assert.equal(rs.scopeSpans[0]!.scope.name, 'scope');
    assert.equal(rs.scopeSpans[0]!.scope.version, 'v1');
    assert.deepEqual(rs.scopeSpans[0]!.spans[0]!.status, { code: 2, message: 'm' });

    // Nesting up to and past protobufjs' recursion limit: both flip from accepted to rejected at the same depth.
    const nested = (levels: number, wrap: (b: Uint8Array) => Uint8Array) => {
      let deep: Uint8Array = str(1, 'leaf');
      for (let i = 0; i < levels; i++) deep = wrap(deep);
      return span(id16, id8, ld(9, kv('deep', deep)));
    };
    const kvl = (b: Uint8Array) => ld(6, ld(1, kv('k', b)));
    for (const wrap of [arr, kvl]) {
      const flips: boolean[] = [];
      for (let levels = 25; levels <= 52; levels++) flips.push(assertAgree(nested(levels, wrap)).ok);
      assert.ok(flips[0] && !flips.at(-1), 'the range covers the limit');
    }
    const r3 = assertAgree(nested(60, arr));
    assert.ok(!r3.ok && /max depth exceeded/.test(r3.message), JSON.stringify(r3));

    // Bad ids: the first in the reference's order is reported; a wire error later in the body wins.
    const badIds = cat(span(ld(1, Buffer.alloc(3)), ld(2, Buffer.alloc(5))), span(id16, ld(2, Buffer.alloc(7))));
    const r4 = assertAgree(badIds);
    assert.ok(!r4.ok && /spans\[0\]\.traceId: must be 16 bytes, got 3/.test(r4.message), JSON.stringify(r4));
    const r5 = assertAgree(cat(badIds, Buffer.from([0x0a, 0x05, 0x01])));
    assert.ok(!r5.ok && /^invalid protobuf: /.test(r5.message), JSON.stringify(r5));

    // A wrong-length id that a later occurrence of the field replaces is fine (last one wins).
    assert.ok(assertAgree(span(ld(1, Buffer.alloc(2)), id16, id8)).ok);
  });
});

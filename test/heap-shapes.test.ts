/**
 * Hidden classes across the log: LLM calls read back from the write-ahead log must have the same
 * V8 hidden classes as calls the litellm processor makes. If a decoder stores a value with another
 * representation (a heap number where the processor's objects hold small integers), V8 generalises
 * the shared class and deprecates the one the processor's object literal is cloned from, and from
 * then on every new call is migrated at its first property read (measured at ~1.5 µs per call;
 * docs/performance.md). Invisible to unit tests of values and to instruction
 * counts, so this asks V8 itself (`%HaveSameMap`, in a child with --allow-natives-syntax).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('hidden classes of LLM calls across the write-ahead log', () => {
  it('calls decoded from the log share their hidden classes with calls the litellm processor makes', () => {
    const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    // As the collector sees them: the benchmark's LiteLLM requests (protobuf, 170 calls each),
    // decoded with the receiver's projection, converted until the code is optimised.
    const script = `
      const { LitellmProcessor } = await import(${url('../processors/litellm/litellm.js')});
      const { SPAN_ATTRIBUTES, SPAN_SELECTORS } = await import(${url('../integrations/litellm/span.js')});
      const { decodeOtlpProto } = await import(${url('../src/otlp/index.js')});
      const { encodeRecord, decodeRecord } = await import(${url('../src/storage/codec.js')});
      const { llmCallsCodec } = await import(${url('../src/storage/llm-calls-codec.js')});
      const { Template } = await import(${url('../bench/loadgen.js')});
      const template = new Template(170);
      const bodies = [0, 1, 2, 3].map((i) => template.instance(i).body);
      const opts = { spanAttributes: SPAN_ATTRIBUTES, spanSelector: SPAN_SELECTORS };
      const convert = (i) => LitellmProcessor.convert(decodeOtlpProto(bodies[i % 4], opts));
      for (let i = 0; i < 50; i++) convert(i);
      const bytes = encodeRecord(convert(0), llmCallsCodec);
      if (bytes[0] !== 0x01) throw new Error('not written in the compact format');
      const back = decodeRecord(bytes);
      const made = convert(1); // after the decoder ran
      const out = [];
      for (let i = 0; i < made.length; i++) {
        const a = made[i], b = back[i];
        out.push([a.id, %HaveSameMap(a, b), %HaveSameMap(a.usage, b.usage), (a.error === null) === (b.error === null) && (a.error === null || %HaveSameMap(a.error, b.error))]);
      }
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as [string, boolean, boolean, boolean][];
    assert.equal(rows.length, 170);
    assert.deepEqual(
      rows.filter(([, call, usage, error]) => !(call && usage && error)),
      [],
      'calls whose hidden classes differ: [id, call, usage, error]',
    );
  });
});

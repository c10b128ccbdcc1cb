/** The write-ahead log's LLM-call codec over calls the logging-payload reader makes. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sloToLlmCall } from '../integrations/litellm/slo.js';
import { decodeRecord, encodeRecord } from '../src/storage/codec.js';
import { LLM_CALLS_TAG, llmCallsCodec } from '../src/storage/llm-calls-codec.js';
import { llmCall } from './helpers/llm-call.js';
import { repoRoot } from './helpers/paths.js';

describe('llm_calls log records', () => {
  it('keep the SLO reader calls exactly (its key order included)', () => {
    const slo = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'litellm', 'slo-anthropic-cache.json'), 'utf8')) as unknown;
    const calls = [
      sloToLlmCall(slo),
      llmCall({ keyMetadata: { business_unit_id: 'bu-0', nested: { list: [1, 'two', null, true], n: -0.5 } }, responseCost: 0.0001 }),
    ];
    const bytes = encodeRecord(calls, llmCallsCodec);
    assert.equal(bytes[0], LLM_CALLS_TAG);
    const back = decodeRecord(bytes);
    assert.deepStrictEqual(back, calls);
    // JSON shows the key order, which deepStrictEqual does not check.
    assert.equal(JSON.stringify(back), JSON.stringify(calls));
  });
});

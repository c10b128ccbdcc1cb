import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../../test/helpers/paths.js';
import { SloError, sloToLlmCall } from './slo.js';
import { parseSloDocument, SloDocumentError } from './slo-files.js';
import { pyRound, pyTruthy, secondsToNanos, usageFromObject } from './values.js';

const fixture = () => JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'litellm', 'slo-anthropic-cache.json'), 'utf8')) as Record<string, unknown>;

describe('StandardLoggingPayload → LlmCall', () => {
  it('maps the fields the amberflo mapping needs', () => {
    const c = sloToLlmCall(fixture());
    assert.equal(c.source, 'slo');
    assert.equal(c.id, 'chatcmpl-slo-fixture-0001');
    assert.equal(c.startTimeMs, 1764355422941);
    assert.equal(c.durationMs, 3491);
    assert.equal(c.startTimeUnixNano, '1764355422941052000');
    assert.equal(c.endTimeUnixNano, '1764355426431805100');
    assert.equal(c.provider, 'anthropic');
    assert.equal(c.modelMapKey, 'claude-sonnet-4-20250514');
    assert.equal(c.modelMapProvider, 'anthropic');
    assert.equal(c.apiBase, 'https://api.anthropic.com/v1/messages');
    assert.equal(c.modelGroup, 'claude-sonnet');
    assert.deepEqual(c.usage, {
      promptTokens: 6200,
      completionTokens: 310,
      totalTokens: 6510,
      cachedReadTokens: 4096,
      cacheCreationTokens: 2048,
      reasoningTokens: 0,
    });
    assert.deepEqual(c.keyMetadata, { business_unit_id: 'bu-research' });
    assert.equal(c.teamId, 'team-r');
    assert.equal(c.teamAlias, 'Research');
    assert.equal(c.userId, 'user-7');
    assert.equal(c.error, null);
    assert.equal(c.stream, true);
    assert.deepEqual(c.requestTags, ['team:research']);
    assert.equal(c.n, null, 'no n in model_parameters');
  });

  it('image n follows the callback: default 1 when absent (null here), explicit value, None → 0', () => {
    const base = fixture();
    assert.equal(sloToLlmCall({ ...base, model_parameters: { n: 2 } }).n, 2);
    assert.equal(sloToLlmCall({ ...base, model_parameters: { n: null } }).n, 0);
    assert.equal(sloToLlmCall({ ...base, model_parameters: {} }).n, null);
  });

  it('errors from error_information; an empty error_class means success', () => {
    const c = sloToLlmCall({
      ...fixture(),
      error_information: { error_class: 'ProxyException', error_code: '', error_message: 'no', llm_provider: '', traceback: 'x' },
    });
    assert.deepEqual(c.error, {
      type: 'ProxyException',
      code: '',
      message: 'no',
      provider: '',
      traceback: 'x',
      limitSubject: null,
      limitRate: null,
      limitValue: null,
      guardrail: null,
    });
    assert.equal(sloToLlmCall({ ...fixture(), error_information: null }).error, null);
  });

  it('rejects what is not a payload, with a reason', () => {
    assert.throws(() => sloToLlmCall([]), SloError);
    assert.throws(() => sloToLlmCall({ ...fixture(), startTime: 'x' }), /startTime/);
    assert.throws(() => sloToLlmCall({ ...fixture(), id: null, trace_id: null }), /id is missing/);
    assert.throws(() => sloToLlmCall({ id: 'x', startTime: 1, endTime: 2 }), /not a StandardLoggingPayload/);
    assert.equal(sloToLlmCall({ ...fixture(), id: '' }).id, '0b6f1c7e-3a51-4e0b-8d1e-9a2c4f6b8d10', 'falls back to trace_id');
  });
});

describe('helpers', () => {
  it('pyRound rounds half to even, like Python 3', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(pyRound), [0, 2, 2, 0, -2, 2, 3]);
  });
  it('pyTruthy follows Python', () => {
    assert.deepEqual([null, 0, '', [], {}, false, 'a', [0], { a: 1 }, 1].map(pyTruthy), [false, false, false, false, false, false, true, true, true, true]);
  });
  it('secondsToNanos keeps the decimal digits', () => {
    assert.equal(secondsToNanos(1764355422.941052), '1764355422941052000');
    assert.equal(secondsToNanos(1), '1000000000');
  });
  it('usageFromObject reads OpenAI and Anthropic cache names, defaults to zero', () => {
    assert.equal(usageFromObject({ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: 4 } }).cachedReadTokens, 4);
    assert.equal(usageFromObject({ cache_read_input_tokens: 3, cache_creation_input_tokens: 5 }).cacheCreationTokens, 5);
    assert.deepEqual(usageFromObject('nope'), {
      promptTokens: 0,
      completionTokens: 0,
      totalTokens: 0,
      cachedReadTokens: 0,
      cacheCreationTokens: 0,
      reasoningTokens: 0,
    });
  });
});

describe('parseSloDocument', () => {
  const one = JSON.stringify(fixture());
  it('reads an object, an array, NDJSON and gzip', () => {
    assert.equal(parseSloDocument(Buffer.from(one)).items.length, 1);
    assert.equal(parseSloDocument(Buffer.from(`[${one},${one}]`)).items.length, 2);
    const nd = parseSloDocument(Buffer.from(`${one}\n\n${one}\n{broken\n`));
    assert.equal(nd.items.length, 2);
    assert.equal(nd.badLines.length, 1);
    assert.match(nd.badLines[0]!, /^line 4: /);
    assert.equal(parseSloDocument(gzipSync(`\ufeff[${one}]`)).items.length, 1);
  });
  it('rejects non-JSON, empty documents and broken gzip', () => {
    assert.throws(() => parseSloDocument(Buffer.from('hello')), SloDocumentError);
    assert.throws(() => parseSloDocument(Buffer.from('  ')), /empty/);
    assert.throws(() => parseSloDocument(Buffer.from('[1,')), /not valid JSON/);
    assert.throws(() => parseSloDocument(Buffer.from([0x1f, 0x8b, 1, 2, 3])), /bad gzip/);
  });
});

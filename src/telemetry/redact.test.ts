import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { isSecretKey, redactBody, redactText, redactUrl, redactValue } from './redact.js';

const KEY = 'a1b2c3d4e5f6a7b8c9d0';

describe('redaction', () => {
  it('scrubs header lines, JSON fields, query strings and Bearer values', () => {
    for (const text of [
      `x-api-key: ${KEY}`,
      `{"X-API-KEY":"${KEY}","other":"fine"}`,
      `{'authorization': 'Bearer ${KEY}'}`,
      `https://host/path?token=${KEY}&x=1`,
      `Authorization: Bearer ${KEY}`,
      `password=${KEY}`,
      `AccountKey=${KEY};BlobEndpoint=x`,
    ]) {
      const out = redactText(text);
      assert.ok(!out.includes(KEY), `${text} → ${out}`);
      assert.match(out, /\[redacted\]/);
    }
    assert.equal(redactText('{"other":"fine"}'), '{"other":"fine"}');
  });

  it('keeps token counts and ordinary text', () => {
    const s = 'prompt_tokens: 11, completion_tokens=2, total tokens 13; request refused: 401 missing or invalid credentials';
    assert.equal(redactText(s), s);
    assert.equal(isSecretKey('promptTokens'), false);
    assert.equal(isSecretKey('bearer_token'), true);
    assert.equal(isSecretKey('api_key'), true);
  });

  it('scrubs well-known token shapes and URL credentials', () => {
    for (const t of [
      'AKIAABCDEFGHIJKLMNOP',
      'sk-abcdefghijklmnopqrstuv',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijkl',
      'ghp_abcdefghijklmnopqrstuvwxyz0123',
    ]) {
      assert.ok(!redactText(`leaked ${t} here`).includes(t), t);
    }
    assert.equal(redactUrl(`postgres://user:${KEY}@db:5432/x`), 'postgres://[redacted]@db:5432/x');
    assert.ok(!redactText(`connect https://me:${KEY}@example.com failed`).includes(KEY));
  });

  it('cuts bodies before scrubbing', () => {
    const body = `${'x'.repeat(5000)} x-api-key: ${KEY}`;
    const out = redactBody(body, 300);
    assert.ok(out.length < 400);
    assert.match(out, /more characters/);
  });

  it('replaces values of secret-named keys in objects', () => {
    const out = redactValue({ api_key: KEY, nested: { password: KEY, url: `https://u:${KEY}@h` }, tokens: 5, list: [`Bearer ${KEY}`] });
    assert.ok(!JSON.stringify(out).includes(KEY), JSON.stringify(out));
    assert.equal((out as { tokens: number }).tokens, 5);
  });

  it('the logger scrubs messages, fields and errors', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write: (c: Buffer, _e, cb) => {
          lines.push(c.toString());
          cb();
        },
      }),
    );
    logger.warn({ response: `{"x-api-key":"${KEY}"}`, headers: { authorization: `Bearer ${KEY}` } }, `upstream said x-api-key: ${KEY}`);
    logger.error({ err: new Error(`HTTP 400: X-API-KEY: ${KEY}`) }, 'failed');
    const text = lines.join('');
    assert.equal(lines.length, 2);
    assert.ok(!text.includes(KEY), text);
  });
});

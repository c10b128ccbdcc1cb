import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { type BodyError, readBody } from './body.js';
import { converted, Settings, withDefaults } from '../config/declare.js';
import { validateAgainst } from '../config/ajv.js';
import { HttpServerSettings, resolveServer, type HttpServerConfig, type HttpServerDefaults } from './config.js';
import { Authenticator, RefusalLog, safeEqual, ServerLimits } from './server.js';

/** A server block as written in pipeline.yaml, defaults filled in, checked and converted as the loader does. */
function block(raw: Record<string, unknown>, defaults: HttpServerDefaults = { endpoint: '127.0.0.1:4318', max_request_body_size: '20MiB' }): HttpServerConfig {
  const schema = Settings(HttpServerSettings(defaults), { description: 'test server' });
  const filled = withDefaults(schema, raw);
  assert.deepEqual(validateAgainst(schema, filled), []);
  return converted(schema, filled) as HttpServerConfig;
}

describe('server block', () => {
  it('resolves the documented defaults', () => {
    const r = resolveServer(block({}));
    assert.deepEqual(r, {
      endpoint: '127.0.0.1:4318',
      maxBody: 20 * 1024 * 1024,
      readTimeoutMs: 30_000,
      headerTimeoutMs: 10_000,
      minBytesPerSecond: 10 * 1024,
      maxConcurrent: 64,
      maxConnections: 4096,
      tls: null,
    });
    assert.equal(resolveServer(block({ read_timeout: '5s' })).headerTimeoutMs, 5000, 'header timeout at most read_timeout');
    const tls = { cert_file: 'c', key_file: 'k', client_ca_file: null };
    assert.deepEqual(resolveServer(block({}), tls).tls, tls, 'the shared TLS applies when the block has none');
  });

  it('requires the endpoint when the block has no default for it', () => {
    const schema = Settings(HttpServerSettings({ max_request_body_size: '32MiB' }), { description: 'test server' });
    assert.deepEqual(validateAgainst(schema, withDefaults(schema, {})), [{ path: ['endpoint'], message: 'is required' }]);
    assert.equal(block({ endpoint: '127.0.0.1:0' }, { max_request_body_size: '32MiB' }).max_request_body_size, 32 * 1024 * 1024);
  });

  it('authenticates in constant time, whatever the length', () => {
    assert.ok(safeEqual('abc', 'abc'));
    assert.ok(!safeEqual('abc', 'abcd'));
    const auth = new Authenticator('tok', [['x-tenant', 't1']]);
    const h = (o: Record<string, string>) => (n: string) => o[n];
    assert.ok(auth.check(h({ authorization: 'Bearer tok', 'x-tenant': 't1' })));
    assert.ok(!auth.check(h({ authorization: 'Bearer tok' })));
    assert.ok(!auth.check(h({ authorization: 'Bearer nope', 'x-tenant': 't1' })));
    assert.ok(!auth.check(h({ 'x-tenant': 't1' })));
    assert.ok(new Authenticator(null).check(h({})));
  });

  it('cuts a body slower than the minimum rate with 408', async () => {
    const req = new PassThrough();
    const started = Date.now();
    const p = readBody(req, 'identity', { maxWire: 1e6, maxDecoded: 1e6, minBytesPerSecond: 1000, rateWindowMs: 200 });
    const t = setInterval(() => req.write('x'), 20); // 50 bytes/s
    await assert.rejects(p, (e: BodyError) => e.status === 408 && /min_body_rate/.test(e.message));
    clearInterval(t);
    assert.ok(Date.now() - started < 1000);
  });

  it('a body at a useful rate is read whole', async () => {
    const req = new PassThrough();
    const p = readBody(req, 'identity', { maxWire: 1e6, maxDecoded: 1e6, minBytesPerSecond: 1000, rateWindowMs: 100 });
    let n = 0;
    const t = setInterval(() => {
      req.write(Buffer.alloc(500));
      if (++n === 8) {
        clearInterval(t);
        req.end();
      }
    }, 20);
    assert.equal((await p).data.length, 4000);
  });

  it('shares a budget for bodies being received and gives it back', async () => {
    const limits = new ServerLimits(resolveServer(block({ max_concurrent_requests: 2, max_request_body_size: 1000 })));
    assert.equal(limits.maxBodyBytes, 2000);
    const a = new PassThrough();
    const b = new PassThrough();
    const c = new PassThrough();
    const ra = limits.readBody(a as never, 'identity');
    const rb = limits.readBody(b as never, 'identity');
    const rc = limits.readBody(c as never, 'identity');
    a.end(Buffer.alloc(900));
    b.end(Buffer.alloc(900));
    await Promise.all([ra.body, rb.body]);
    c.write(Buffer.alloc(300));
    await assert.rejects(rc.body, (e: BodyError) => e.status === 429);
    assert.equal(limits.bufferedBytes, 1800);
    ra.release();
    rb.release();
    rc.release();
    assert.equal(limits.bufferedBytes, 0);
    assert.ok(limits.tryAcquire() && limits.tryAcquire() && !limits.tryAcquire(), 'two slots');
  });

  it('logs refusals at warn, at most one line per status and reason per interval', () => {
    const lines: { msg: string; suppressed: number; remote: string }[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write: (c: Buffer, _e, cb) => {
          lines.push(JSON.parse(c.toString()));
          cb();
        },
      }),
    );
    const log = new RefusalLog(logger, 'OTLP', 50);
    for (let i = 0; i < 5; i++) log.refused('10.0.0.1:5000', 401, 'missing or invalid credentials');
    log.refused('10.0.0.1:5000', 400, 'invalid JSON');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!.msg, /OTLP request refused: 401 missing or invalid credentials from 10\.0\.0\.1:5000/);
    const until = Date.now() + 60;
    while (Date.now() < until);
    log.refused('10.0.0.2:1', 401, 'missing or invalid credentials');
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.suppressed, 4);
    assert.match(lines[2]!.msg, /4 more like it not logged/);
  });
});

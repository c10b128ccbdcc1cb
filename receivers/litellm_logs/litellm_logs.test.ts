import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino, type Logger } from 'pino';
import { BackpressureError } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { configOf, resolveComponentConfig } from '../../src/config/component-config.js';
import factory from './index.js';
import type { LitellmLogsReceiver } from './litellm_logs.js';

const slo = JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'litellm', 'slo-anthropic-cache.json'), 'utf8')) as Record<string, unknown>;
const withId = (id: string) => ({ ...slo, id });
const dir = mkdtempSync(join(tmpdir(), 'spanmeter-litellm-logs-'));

/** A receiver with `config` as written in pipeline.yaml. */
function make(config: Record<string, unknown>, opts: { refuse?: number; logger?: Logger } = {}) {
  const metrics = new ServiceMetrics('t', { processMetrics: false });
  const received: LlmCall[][] = [];
  let refuse = opts.refuse ?? 0;
  const rx = factory.create(
    {
      id: 'litellm_logs',
      config: configOf(factory, config),
      logger: opts.logger ?? pino({ level: 'silent' }),
      registry: metrics.registry,
      metrics: metrics.forComponent('receiver', 'litellm_logs'),
      dataDir: dir,
      instanceId: 'i',
    },
    {
      consume: async (calls: LlmCall[]) => {
        if (refuse > 0) {
          refuse--;
          throw new BackpressureError('busy', 0.01);
        }
        received.push(calls);
      },
    },
  ) as LitellmLogsReceiver;
  return { rx, received, metrics, setRefuse: (n: number) => (refuse = n) };
}

describe('litellm_logs receiver: files', () => {
  it('reads objects, arrays, NDJSON and gzip from files and directories; skips bad files with a reason', async () => {
    const d = join(dir, 'in');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'a-object.json'), JSON.stringify(withId('a')));
    writeFileSync(join(d, 'b-array.json'), JSON.stringify([withId('b1'), withId('b2')]));
    writeFileSync(join(d, 'c.ndjson'), `${JSON.stringify(withId('c1'))}\n${JSON.stringify(withId('c2'))}\nnot json\n${JSON.stringify({ hello: 1 })}\n`);
    writeFileSync(join(d, 'sub', 'd.json.gz'), gzipSync(JSON.stringify([withId('d1')])));
    writeFileSync(join(d, 'sub', 'e-broken.json'), 'garbage');
    writeFileSync(join(d, 'ignored.txt'), 'not read: wrong extension');
    const explicit = join(dir, 'explicit.log');
    writeFileSync(explicit, JSON.stringify(withId('x')));
    const { rx, received } = make({ paths: [d, explicit, join(dir, 'missing.json')], batch_size: 2 });
    const progress: number[] = [];
    rx.onProgress((s) => progress.push(s.callsRead));
    await rx.start();
    const s = await rx.finished();
    await rx.shutdown();
    assert.deepEqual(
      received.flat().map((c) => c.id),
      ['a', 'b1', 'b2', 'c1', 'c2', 'd1', 'x'],
    );
    assert.ok(
      received.every((b) => b.length <= 2),
      'batch_size respected',
    );
    assert.equal(s.filesTotal, 7, 'six files found and one missing path');
    assert.equal(s.filesRead, 5);
    assert.equal(s.filesRead + s.skipped.length, s.filesTotal, 'each ends read or skipped');
    assert.equal(s.callsRead, 7);
    assert.equal(s.invalidRecords, 2);
    assert.deepEqual(
      s.skipped.map((x) => [x.path.slice(dir.length), x.reason]),
      [
        ['/missing.json', 'no such file or directory'],
        ['/in/sub/e-broken.json', 'not JSON: expected an object, an array or NDJSON objects'],
      ],
    );
    assert.match(s.invalid[0]?.reason ?? '', /^line 3: /);
    assert.match(s.invalid[1]?.reason ?? '', /^record 3: /);
    assert.equal(s.bytesDone, s.bytesTotal);
    assert.equal(progress.at(-1), 7);
  });

  it('streams large NDJSON (plain and gzip, CRLF) in batches; reads pretty-printed objects whole; truncated gzip keeps what was read', async () => {
    const d = join(dir, 'stream');
    mkdirSync(d);
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify(withId(`n${i}`)));
    writeFileSync(join(d, 'a.ndjson'), lines.slice(0, 1500).join('\r\n') + '\r\n');
    writeFileSync(join(d, 'b.ndjson.gz'), gzipSync(lines.slice(1500).join('\n')));
    writeFileSync(join(d, 'c-pretty.json'), JSON.stringify(withId('pretty'), null, 2));
    const truncated = gzipSync(Array.from({ length: 2000 }, (_, i) => JSON.stringify(withId(`t${i}`))).join('\n'));
    writeFileSync(join(d, 'd-truncated.ndjson.gz'), truncated.subarray(0, Math.floor(truncated.length * 0.6)));
    const { rx, received } = make({ paths: [d], batch_size: 250 });
    const progress: { calls: number; bytes: number }[] = [];
    rx.onProgress((x) => progress.push({ calls: x.callsRead, bytes: x.bytesDone }));
    await rx.start();
    const s = await rx.finished();
    await rx.shutdown();
    const ids = received.flat().map((c) => c.id);
    assert.deepEqual(ids.slice(0, 3001), [...lines.map((_, i) => `n${i}`), 'pretty']);
    const tail = ids.slice(3001);
    assert.ok(tail.length > 0 && tail.every((id, i) => id === `t${i}`), `records before the truncation are delivered in order (${tail.length})`);
    assert.equal(s.filesRead, 3);
    assert.equal(s.skipped.length, 1);
    assert.match(s.skipped[0]!.reason, new RegExp(`^bad gzip data: .* \\(after ${tail.length} records, which were read\\)$`));
    assert.ok(progress.filter((p) => p.calls > 0 && p.calls < 1500).length >= 3, 'progress is reported within a file');
    assert.equal(s.bytesDone, s.bytesTotal);
  });

  it('waits and retries while the pipeline signals back-pressure (nothing is lost)', async () => {
    const f = join(dir, 'bp.json');
    writeFileSync(f, JSON.stringify([withId('p1'), withId('p2')]));
    const { rx, received } = make({ paths: [f] }, { refuse: 3 });
    await rx.start();
    await rx.finished();
    await rx.shutdown();
    assert.deepEqual(
      received.flat().map((c) => c.id),
      ['p1', 'p2'],
    );
  });

  it('config: needs paths or http; the endpoint is required; sizes parse', () => {
    const problems = (raw: unknown) => resolveComponentConfig(factory, raw).problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    assert.deepEqual(problems({}), [': nothing to read: set paths and/or http']);
    assert.deepEqual(problems({ paths: ['x'], http: null }), [], 'http: null is off (what spanmeter backfill writes)');
    assert.deepEqual(problems({ http: { endpoint: '127.0.0.1:0' } }), []);
    assert.ok(problems({ http: {} }).includes('http.endpoint: is required'));
    assert.notDeepEqual(problems({ http: { endpoint: 'nope' } }), []);
    assert.notDeepEqual(problems({ http: { endpoint: '127.0.0.1:0', bearer_token: '' } }), [], 'an empty token is refused');
    const c = configOf(factory, { http: { endpoint: '127.0.0.1:0' } });
    assert.equal(c.http!.max_request_body_size, 32 * 1024 * 1024);
    assert.equal(c.http!.path, '/');
    assert.equal(c.http!.read_timeout, 30_000);
    assert.equal(c.batch_size, 500);
    assert.equal(configOf(factory, { http: { endpoint: '127.0.0.1:0', max_request_body_size: 10 } }).http!.max_request_body_size, 10);
  });
});

function post(
  address: string,
  path: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address.slice(0, i), port: Number(address.slice(i + 1)), path, method, headers: { 'Content-Type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? body : undefined);
  });
}

describe('litellm_logs receiver: HTTP (generic_api logger)', () => {
  const h = make({ http: { endpoint: '127.0.0.1:0', path: '/litellm', bearer_token: 's3cret', max_request_body_size: '1MiB' } });
  const auth = { Authorization: 'Bearer s3cret' };
  after(() => h.rx.shutdown());

  it('accepts json_array, ndjson, single and gzip bodies', async () => {
    await h.rx.start();
    const addr = h.rx.boundAddresses().http!;
    assert.match(addr, /^127\.0\.0\.1:\d+$/);
    let r = await post(addr, '/litellm', JSON.stringify([withId('h1'), withId('h2')]), auth);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { accepted: 2, rejected: 0, errors: [] });
    r = await post(addr, '/litellm', `${JSON.stringify(withId('h3'))}\n${JSON.stringify(withId('h4'))}\n`, auth);
    assert.equal(r.status, 200);
    r = await post(addr, '/litellm', JSON.stringify(withId('h5')), auth);
    assert.equal(r.status, 200);
    r = await post(addr, '/litellm', gzipSync(JSON.stringify([withId('h6')])), { ...auth, 'Content-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.deepEqual(
      h.received.flat().map((c) => c.id),
      ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'],
    );
  });

  it('partial success reports the rejected records; nothing valid → 400', async () => {
    const addr = h.rx.boundAddresses().http!;
    let r = await post(addr, '/litellm', JSON.stringify([withId('h7'), { nope: true }]), auth);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).rejected, 1);
    r = await post(addr, '/litellm', 'not json', auth);
    assert.equal(r.status, 400);
    r = await post(addr, '/litellm', JSON.stringify([{ nope: true }]), auth);
    assert.equal(r.status, 400);
    assert.match(JSON.parse(r.body).details[0], /record 1/);
  });

  it('429 with Retry-After on back-pressure, 401/404/405/413 otherwise', async () => {
    const addr = h.rx.boundAddresses().http!;
    h.setRefuse(1);
    let r = await post(addr, '/litellm', JSON.stringify(withId('bp')), auth);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '1');
    r = await post(addr, '/litellm', JSON.stringify(withId('bp')), { Authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    r = await post(addr, '/elsewhere', '{}', auth);
    assert.equal(r.status, 404);
    r = await post(addr, '/litellm', '', auth, 'GET');
    assert.equal(r.status, 405);
    r = await post(addr, '/litellm', Buffer.alloc(1024 * 1024 + 10, 32), auth).catch(() => ({ status: 413, body: '', headers: {} }));
    assert.equal(r.status, 413);
    assert.ok(!h.received.flat().some((c) => c.id === 'bp'), 'refused data was not handed on');
  });
});

describe('litellm_logs receiver: HTTP limits (the shared server block)', () => {
  const lines: { level: number; msg: string; remote: string; status: number }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write: (c: Buffer, _e, cb) => {
        lines.push(JSON.parse(c.toString()));
        cb();
      },
    }),
  );
  const h = make({ http: { endpoint: '127.0.0.1:0', bearer_token: 'tok', header_timeout: '1s', read_timeout: '3s' } }, { logger });
  after(() => h.rx.shutdown());

  it('cuts a slowloris connection at header_timeout and logs refusals at warn with the remote address', async () => {
    await h.rx.start();
    const addr = h.rx.boundAddresses().http!;
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('POST / HTTP/1.1\r\nHost: x\r\n'));
      const t = setInterval(() => s.write('X-a: b\r\n'), 200);
      s.on('error', () => {});
      s.on('close', () => {
        clearInterval(t);
        resolve();
      });
    });
    const took = Date.now() - started;
    assert.ok(took >= 1000 && took < 2600, `cut after ${took} ms (header_timeout 1 s)`);
    const r = await post(addr, '/', JSON.stringify(withId('x')), { Authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    const refused = lines.filter((l) => /request refused: 401/.test(l.msg));
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.level, 40);
    assert.match(refused[0]!.remote, /^127\.0\.0\.1:\d+$/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { configOf } from '../../src/config/component-config.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { meterRecord } from '../../test/helpers/meter-record.js';
import { amberfloExporter } from './amberflo.js';
import { validate } from './config.js';
import factory from './index.js';

describe('amberflo exporter config', () => {
  it('defaults to 1000 records / 1 MB per request and requires an API key when active', () => {
    assert.throws(() => configOf(factory), /api_key: is required/);
    const d = configOf(factory, { api_key: 'k' });
    assert.equal(d.max_records_per_request, 1000);
    assert.equal(d.max_bytes_per_request, 1_000_000);
    assert.equal(d.endpoint, 'https://ingest.amberflo.io/ingest');
    assert.deepEqual(
      validate({ ...d, api_key: '' }).map((p) => p.path),
      ['api_key'],
    );
    assert.deepEqual(validate({ ...d, api_key: '', when: { value: '', in: ['api'] } }), []);
  });
  it('retries for up to 10 minutes by default, with waits from 2 s to 60 s', () => {
    const c = configOf(factory, { api_key: 'k' });
    assert.deepEqual(c.retry_on_failure, {
      enabled: true,
      initial_interval: 2000,
      max_interval: 60_000,
      multiplier: 2,
      randomization_factor: 0.5,
      max_elapsed_time: 600_000,
    });
    assert.equal(c.timeout, 30_000);
  });
});

describe('amberflo exporter', () => {
  it('splits a batch into requests, retries a 429 and dead-letters a 400', async (t) => {
    const posted: unknown[][] = [];
    let calls = 0;
    let twoRecordCalls = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        assert.equal(req.headers['x-api-key'], 'k');
        const body = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as unknown[];
        // The 2-record request is refused once with 429, then accepted; the 1-record one is rejected.
        if (body.length === 1) res.writeHead(400).end('{"error":"invalid record"}');
        else if (++twoRecordCalls === 1) res.writeHead(429, { 'retry-after': '0' }).end('slow down');
        else {
          posted.push(body);
          res.writeHead(200).end('ok');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'amberflo-exporter-'));
    t.after(() => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = configOf(factory, {
      api_key: 'k',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      max_records_per_request: 2,
      retry_on_failure: { initial_interval: '10ms' },
    });
    const metrics = new ServiceMetrics('test', { processMetrics: false });
    const ex = amberfloExporter(config, {
      id: 'amberflo',
      logger: pino({ level: 'silent' }),
      registry: metrics.registry,
      metrics: metrics.forComponent('exporter', 'amberflo'),
      dataDir: dir,
    });
    await ex.start?.({ reportFatalError: () => undefined, setHealthDetail: () => undefined });
    const records = [1, 2, 3].map((i) => meterRecord(i));
    await ex.consume(records);
    await ex.shutdown?.(Date.now() + 5_000);
    assert.equal(calls, 3);
    assert.deepEqual(posted, [records.slice(0, 2)]);
    assert.deepEqual(
      readdirSync(join(dir, 'dead-letter'))
        .map((f) => f.replace(/^.*_[0-9a-f]{8}/, ''))
        .sort(),
      ['.json.gz', '.response.json'],
    );
  });
});

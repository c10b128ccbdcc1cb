import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { configOf } from '../../src/config/component-config.js';
import { spanCount } from '../../src/data/span.js';
import { decodeOtlpJson, decodeOtlpProto } from '../../src/otlp/index.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { otlpRequest } from '../../test/helpers/litellm-spans.js';
import { logsUrl, tracesUrl, validate } from './config.js';
import factory from './index.js';
import { OtlpExporter } from './otlp.js';

describe('otlp exporter config', () => {
  it('appends /v1/traces unless present', () => {
    assert.equal(tracesUrl('http://c:4318'), 'http://c:4318/v1/traces');
    assert.equal(tracesUrl('https://x/api/public/otel/'), 'https://x/api/public/otel/v1/traces');
    assert.equal(tracesUrl('http://c:4318/v1/traces'), 'http://c:4318/v1/traces');
  });
  it('sends logs to <endpoint>/v1/logs, also when the endpoint names /v1/traces', () => {
    assert.equal(logsUrl('http://c:4318'), 'http://c:4318/v1/logs');
    assert.equal(logsUrl('https://x/api/public/otel/'), 'https://x/api/public/otel/v1/logs');
    assert.equal(logsUrl('http://c:4318/v1/traces'), 'http://c:4318/v1/logs');
    assert.equal(logsUrl('http://c:4318/v1/logs'), 'http://c:4318/v1/logs');
  });
  it('requires an endpoint URL', () => {
    assert.throws(() => configOf(factory), /endpoint: is required/);
    assert.deepEqual(validate(configOf(factory, { endpoint: 'http://c:4318' })), []);
  });
  it('retries for up to 2 minutes by default, with waits from 1 s to 30 s', () => {
    const c = configOf(factory, { endpoint: 'http://c:4318' });
    assert.deepEqual(c.retry_on_failure, {
      enabled: true,
      initial_interval: 1000,
      max_interval: 30_000,
      multiplier: 2,
      randomization_factor: 0.5,
      max_elapsed_time: 120_000,
    });
    assert.equal(c.timeout, 10_000);
  });
});

describe('otlp exporter', () => {
  it('forwards spans as gzip protobuf after a 503, counting them by signal', async (t) => {
    const bodies: Buffer[] = [];
    let calls = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        if (calls === 1) {
          res.writeHead(503, { 'retry-after': '0' }).end('busy');
          return;
        }
        assert.equal(req.url, '/v1/traces');
        assert.equal(req.headers['content-encoding'], 'gzip');
        assert.equal(req.headers['x-tenant'], 't1');
        bodies.push(gunzipSync(Buffer.concat(chunks)));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const metrics = new ServiceMetrics('test', { processMetrics: false });
    const config = configOf(factory, { endpoint, headers: { 'X-Tenant': 't1' }, retry_on_failure: { initial_interval: '10ms' } });
    const ex = new OtlpExporter(config, {
      id: 'otlp',
      logger: pino({ level: 'silent' }),
      registry: metrics.registry,
      metrics: metrics.forComponent('exporter', 'otlp'),
    });
    const batch = decodeOtlpJson(JSON.stringify(otlpRequest([{ responseId: 'r1' }, { responseId: 'r2' }])));
    const spans = spanCount(batch);
    await ex.start();
    await ex.consume(batch);
    await ex.shutdown(Date.now() + 5_000);
    assert.equal(calls, 2);
    assert.equal(bodies.length, 1);
    assert.equal(spanCount(decodeOtlpProto(bodies[0]!)), spans);
    const forwarded = await metrics.registry.getSingleMetric('spanmeter_exporter_forwarded_items_total')!.get();
    assert.deepEqual(
      forwarded.values.map((v) => [v.labels, v.value]),
      [[{ exporter: 'otlp', signal: 'spans', outcome: 'sent' }, spans]],
    );
  });
});

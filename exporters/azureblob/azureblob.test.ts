import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Host } from '../../src/component.js';
import { configOf, resolveComponentConfig } from '../../src/config/component-config.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import type { AzureBlobExporterConfig } from './config.js';
import factory from './index.js';

const problems = (raw: Record<string, unknown>) => resolveComponentConfig(factory, raw).problems.map((p) => p.path.join('.'));
const host: Host = { reportFatalError: () => undefined, setHealthDetail: () => undefined };

function create(config: AzureBlobExporterConfig) {
  const m = new ServiceMetrics('t', { processMetrics: false });
  return factory.create({
    id: 'azureblob',
    config,
    logger: pino({ level: 'silent' }),
    registry: m.registry,
    metrics: m.forComponent('exporter', 'azureblob'),
    dataDir: '/nonexistent',
    instanceId: 't',
  });
}

/** A local blob endpoint that records each request and answers 201 Created. */
async function blobEndpoint() {
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.writeHead(201).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { requests, port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const account = (port: number) => ({
  container: 'metering',
  account_name: 'devstoreaccount1',
  account_key: 'dGVzdC1rZXk=',
  account_url: `http://127.0.0.1:${port}/devstoreaccount1`,
});

describe('azureblob exporter', () => {
  it('needs a container and some credential when active; dormant skips the checks', () => {
    assert.deepEqual(problems({}), ['container', 'connection_string']);
    assert.deepEqual(problems({ container: 'c', account_name: 'acct' }), [], 'managed identity');
    assert.deepEqual(problems({ container: 'c', account_key: 'k', account_url: 'http://x' }), ['account_key']);
    assert.deepEqual(problems({ when: { value: 's3', in: ['azure-blob'] } }), []);
  });

  it('start() contacts the store only with create_container, creating the containers of every route', async () => {
    const ep = await blobEndpoint();
    try {
      const quiet = create(configOf(factory, account(ep.port)));
      await quiet.start!(host);
      await quiet.shutdown!(Date.now() + 1_000);
      assert.equal(ep.requests.length, 0, 'no request without create_container');

      const creating = create(
        configOf(factory, {
          ...account(ep.port),
          create_container: true,
          routing: { dimension: 'bu', routes: { a: { container: 'finance' }, b: { path: 'x' } } },
        }),
      );
      await creating.start!(host);
      await creating.shutdown!(Date.now() + 1_000);
      assert.deepEqual(ep.requests.map((r) => r.split('?')[0]).sort(), ['PUT /devstoreaccount1/finance', 'PUT /devstoreaccount1/metering']);
      assert.ok(ep.requests.every((r) => r.includes('restype=container')));
    } finally {
      await ep.close();
    }
  });

  it('with create_container and a store that refuses connections, start() fails promptly', async () => {
    const ep = await blobEndpoint();
    await ep.close(); // the port now refuses connections
    const ex = create(configOf(factory, { ...account(ep.port), create_container: true }));
    const t0 = Date.now();
    await assert.rejects(ex.start!(host));
    assert.ok(Date.now() - t0 < 5_000, `failed after ${Date.now() - t0} ms`);
    await ex.shutdown!(Date.now() + 1_000);
  });
});

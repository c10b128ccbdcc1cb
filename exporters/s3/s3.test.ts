import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import { encodeBatch } from '../../integrations/amberflo/objects.js';
import { configOf, resolveComponentConfig } from '../../src/config/component-config.js';
import factory from './index.js';
import { S3Sink, clientConfig } from './s3.js';

const obj = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: 0, meterValue: 1 }], { path: 'p' });
const problems = (raw: Record<string, unknown>) => resolveComponentConfig(factory, raw).problems.map((p) => p.path.join('.'));

describe('s3 exporter', () => {
  it('builds PutObject with the content headers, SSE-KMS, storage class and ACL', () => {
    const sink = new S3Sink(
      configOf(factory, {
        bucket: 'b',
        region: 'us-east-1',
        server_side_encryption: 'aws:kms',
        kms_key_id: 'k1',
        storage_class: 'STANDARD_IA',
        acl: 'bucket-owner-full-control',
      }),
    );
    const p = sink.params(obj, { bucket: 'b', path: 'p', label: '' });
    assert.equal(p.Key, obj.key);
    assert.equal(p.ContentType, 'application/json');
    assert.equal(p.ContentEncoding, 'gzip');
    assert.equal(p.ServerSideEncryption, 'aws:kms');
    assert.equal(p.SSEKMSKeyId, 'k1');
    assert.equal(p.StorageClass, 'STANDARD_IA');
    assert.equal(p.ACL, 'bucket-owner-full-control');
    void sink.close();
  });

  it('uses the default credential chain unless both keys are given; one SDK attempt per try', () => {
    assert.equal(clientConfig(configOf(factory, { bucket: 'b' })).credentials, undefined);
    const c = clientConfig(
      configOf(factory, { bucket: 'b', access_key_id: 'a', secret_access_key: 's', endpoint: 'http://127.0.0.1:9', force_path_style: true }),
    );
    assert.deepEqual(c.credentials, { accessKeyId: 'a', secretAccessKey: 's' });
    assert.equal(c.maxAttempts, 1);
    assert.equal(c.forcePathStyle, true);
  });

  it('validates: bucket required when active, keys in pairs, kms key needs aws:kms; dormant skips', () => {
    assert.deepEqual(problems({}), ['bucket']);
    assert.deepEqual(problems({ bucket: 'b', access_key_id: 'a' }), ['access_key_id']);
    assert.deepEqual(problems({ bucket: 'b', kms_key_id: 'k' }), ['kms_key_id']);
    assert.deepEqual(problems({ when: { value: '', in: ['s3'] } }), []);
  });

  it('takes multipart sizes as bytes or like "16MiB", at least 5MiB either way', () => {
    const c = configOf(factory, { bucket: 'b', multipart_threshold_bytes: '32MiB', multipart_part_size_bytes: 6 * 1024 * 1024 });
    assert.equal(c.multipart_threshold_bytes, 32 * 1024 * 1024);
    assert.equal(c.multipart_part_size_bytes, 6 * 1024 * 1024);
    assert.equal(configOf(factory, { bucket: 'b' }).multipart_threshold_bytes, 16 * 1024 * 1024);
    assert.deepEqual(problems({ bucket: 'b', multipart_threshold_bytes: '1MiB', multipart_part_size_bytes: 1000 }), [
      'multipart_threshold_bytes',
      'multipart_part_size_bytes',
    ]);
  });

  it('start() makes no request to the store (the first upload is the first request)', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const m = new ServiceMetrics('t', { processMetrics: false });
      const config = configOf(factory, { bucket: 'b', region: 'us-east-1', endpoint, force_path_style: true, access_key_id: 'a', secret_access_key: 's' });
      const ex = factory.create({
        id: 's3',
        config,
        logger: pino({ level: 'silent' }),
        registry: m.registry,
        metrics: m.forComponent('exporter', 's3'),
        dataDir: '/nonexistent',
        instanceId: 't',
      });
      await ex.start!({ reportFatalError: () => undefined, setHealthDetail: () => undefined });
      await ex.shutdown!(Date.now() + 1_000);
      assert.equal(requests, 0);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

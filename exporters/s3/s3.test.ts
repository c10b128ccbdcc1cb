import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBatch } from '../../integrations/amberflo/objects.js';
import { defaultConfig, validate } from './config.js';
import { S3Sink, clientConfig } from './s3.js';

const obj = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: 0, meterValue: 1 }], { path: 'p' });

describe('s3 exporter', () => {
  it('builds PutObject with the content headers, SSE-KMS, storage class and ACL', () => {
    const sink = new S3Sink({ ...defaultConfig(), bucket: 'b', region: 'us-east-1', server_side_encryption: 'aws:kms', kms_key_id: 'k1', storage_class: 'STANDARD_IA', acl: 'bucket-owner-full-control' });
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
    assert.equal(clientConfig({ ...defaultConfig(), bucket: 'b' }).credentials, undefined);
    const c = clientConfig({ ...defaultConfig(), bucket: 'b', access_key_id: 'a', secret_access_key: 's', endpoint: 'http://127.0.0.1:9', force_path_style: true });
    assert.deepEqual(c.credentials, { accessKeyId: 'a', secretAccessKey: 's' });
    assert.equal(c.maxAttempts, 1);
    assert.equal(c.forcePathStyle, true);
  });

  it('validates: bucket required when active, keys in pairs, kms key needs aws:kms; dormant skips', () => {
    assert.deepEqual(validate(defaultConfig()).map((p) => p.path), ['bucket']);
    assert.deepEqual(validate({ ...defaultConfig(), bucket: 'b', access_key_id: 'a' }).map((p) => p.path), ['access_key_id']);
    assert.deepEqual(validate({ ...defaultConfig(), bucket: 'b', kms_key_id: 'k' }).map((p) => p.path), ['kms_key_id']);
    assert.deepEqual(validate({ ...defaultConfig(), when: { value: '', in: ['s3'] } }), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, validate } from './config.js';

describe('amberflo exporter config', () => {
  it('defaults to 1000 records / 1 MB per request and requires an API key when active', () => {
    const d = defaultConfig();
    assert.equal(d.max_records_per_request, 1000);
    assert.equal(d.max_bytes_per_request, 1_000_000);
    assert.equal(d.endpoint, 'https://ingest.amberflo.io/ingest');
    assert.deepEqual(validate(d).map((p) => p.path), ['api_key']);
    assert.deepEqual(validate({ ...d, when: { value: '', in: ['api'] } }), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, validate } from './config.js';

describe('azureblob exporter config', () => {
  it('needs a container and some credential when active; dormant skips the checks', () => {
    assert.deepEqual(validate(defaultConfig()).map((p) => p.path), ['container', 'connection_string']);
    assert.deepEqual(validate({ ...defaultConfig(), container: 'c', account_name: 'acct' }), [], 'managed identity');
    assert.deepEqual(validate({ ...defaultConfig(), container: 'c', account_key: 'k', account_url: 'http://x' }).map((p) => p.path), ['account_key']);
    assert.deepEqual(validate({ ...defaultConfig(), when: { value: 's3', in: ['azure-blob'] } }), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig, logsUrl, tracesUrl, validate } from './config.js';

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
    assert.deepEqual(validate(defaultConfig()).map((p) => p.path), ['endpoint']);
    assert.deepEqual(validate({ ...defaultConfig(), endpoint: 'http://c:4318' }), []);
  });
});

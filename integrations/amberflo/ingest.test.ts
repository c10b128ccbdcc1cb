import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_INGEST_URL, ingestUrl } from './ingest.js';

describe('amberflo ingest client', () => {
  it('posts a bare host (the callback form) to /ingest and keeps explicit paths', () => {
    assert.equal(ingestUrl('https://ingest.amberflo.io'), 'https://ingest.amberflo.io/ingest');
    assert.equal(ingestUrl('https://ingest.amberflo.io/'), 'https://ingest.amberflo.io/ingest');
    assert.equal(ingestUrl('https://app.amberflo.io/ingest'), 'https://app.amberflo.io/ingest');
    assert.equal(ingestUrl(DEFAULT_INGEST_URL), DEFAULT_INGEST_URL);
  });
});

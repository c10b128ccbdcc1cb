/**
 * The documentation generated from declarations is current: each component README's key table and
 * docs/metrics.md. When this fails, run `npm run docs` and commit the result.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { staleDocs } from '../src/generate-docs.js';

it('README key tables and docs/metrics.md match the declarations (npm run docs rewrites them)', async () => {
  const stale = await staleDocs();
  assert.deepEqual(
    stale.map((s) => (s.expected.endsWith('markers') ? s.expected : `${s.file} is stale`)),
    [],
  );
});

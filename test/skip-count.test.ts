/**
 * Without the conformance set beside the repository (a plain clone), the tests that need it are
 * reported as skipped in the runner's count, each with its reason, and nothing fails: they do not
 * vanish, and they do not pass without checking anything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildRoot } from './helpers/paths.js';

const FILES = ['conformance.test.js', 'enrich-conformance.test.js', 'otlp-conformance.test.js'];

describe('tests that need the conformance set', () => {
  it('are counted as skipped, each with the reason, when it is absent', () => {
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...FILES.map((f) => join(buildRoot(), 'test', f))], {
      // Without NODE_TEST_CONTEXT (set for us by the runner), the child prints TAP, not its protocol.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT')), SPANMETER_CONFORMANCE_DIR: 'none' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const skips = r.stdout.split('\n').filter((l) => /^\s*ok \d+ - .* # SKIP /.test(l));
    assert.equal(skips.length, FILES.length, `one skipped test per file:\n${r.stdout}`);
    for (const l of skips) assert.match(l, /# SKIP .+ needs the conformance set at \.\.\/shared\/conformance\/litellm-amberflo, which is absent/);
    assert.match(r.stdout, new RegExp(`^# skipped ${FILES.length}$`, 'm'));
    assert.match(r.stdout, /^# fail 0$/m);
  });
});

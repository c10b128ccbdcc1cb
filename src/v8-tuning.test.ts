import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tuneV8 } from './v8-tuning.js';

function run(execArgv: string[]): { returned: string[]; set: string[] } {
  const set: string[] = [];
  const returned = tuneV8(execArgv, (f) => set.push(f));
  return { returned, set };
}

const DEFAULTS = ['--no-allocation-site-pretenuring', '--heap-growing-percent=200'];

test('turns allocation-site pretenuring off and fixes the heap growing factor by default', () => {
  assert.deepEqual(run([]), { returned: DEFAULTS, set: DEFAULTS });
  assert.deepEqual(run(['--max-old-space-size=512', '--enable-source-maps']).set, DEFAULTS);
});

test("keeps the operator's own pretenuring flag, either way and in either spelling", () => {
  for (const given of [
    '--allocation-site-pretenuring',
    '--no-allocation-site-pretenuring',
    '--allocation_site_pretenuring',
    '--no-allocation_site_pretenuring',
  ]) {
    assert.deepEqual(run(['--trace-gc', given]), { returned: ['--heap-growing-percent=200'], set: ['--heap-growing-percent=200'] }, given);
  }
  // Similar names are not the flag.
  assert.deepEqual(run(['--allocation-site-tracking']).set, DEFAULTS);
});

test("keeps the operator's own heap growing factor, in either spelling", () => {
  for (const given of ['--heap-growing-percent=50', '--heap_growing_percent=400']) {
    assert.deepEqual(run([given]), { returned: ['--no-allocation-site-pretenuring'], set: ['--no-allocation-site-pretenuring'] }, given);
  }
  assert.deepEqual(run(['--heap-growing-percent=0', '--allocation-site-pretenuring']), { returned: [], set: [] });
});

test('the CLI loads it before anything else, and V8 accepts the flags', () => {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const probe = `
    const m = await import(${JSON.stringify(new URL('./v8-tuning.js', import.meta.url).href)});
    console.log(JSON.stringify(m.appliedV8Flags));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), DEFAULTS);
  const kept = spawnSync(process.execPath, ['--allocation-site-pretenuring', '--heap-growing-percent=100', '--input-type=module', '-e', probe], {
    encoding: 'utf8',
  });
  assert.equal(kept.status, 0, kept.stderr);
  assert.deepEqual(JSON.parse(kept.stdout), []);
  // ES modules run in import order: the flag is set before any other module of the CLI is loaded.
  const firstImport = readFileSync(cli, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('import '));
  assert.equal(firstImport, "import './v8-tuning.js';");
  const v = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr, '', 'no warning from V8 about the flags');
});

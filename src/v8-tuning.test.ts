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

test('turns allocation-site pretenuring off by default', () => {
  assert.deepEqual(run([]), { returned: ['--no-allocation-site-pretenuring'], set: ['--no-allocation-site-pretenuring'] });
  assert.deepEqual(run(['--max-old-space-size=512', '--enable-source-maps']).set, ['--no-allocation-site-pretenuring']);
});

test("keeps the operator's own pretenuring flag, either way and in either spelling", () => {
  for (const given of ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring', '--allocation_site_pretenuring', '--no-allocation_site_pretenuring']) {
    assert.deepEqual(run(['--trace-gc', given]), { returned: [], set: [] }, given);
  }
  // Similar names are not the flag.
  assert.deepEqual(run(['--allocation-site-tracking']).set, ['--no-allocation-site-pretenuring']);
});

test('the CLI loads it before anything else, and V8 accepts the flag', () => {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const probe = `
    const m = await import(${JSON.stringify(new URL('./v8-tuning.js', import.meta.url).href)});
    console.log(JSON.stringify(m.appliedV8Flags));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['--no-allocation-site-pretenuring']);
  const kept = spawnSync(process.execPath, ['--allocation-site-pretenuring', '--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(kept.status, 0, kept.stderr);
  assert.deepEqual(JSON.parse(kept.stdout), []);
  // ES modules run in import order: the flag is set before any other module of the CLI is loaded.
  const firstImport = readFileSync(cli, 'utf8').split('\n').find((l) => l.startsWith('import '));
  assert.equal(firstImport, "import './v8-tuning.js';");
  const v = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr, '', 'no warning from V8 about the flag');
});

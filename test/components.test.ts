/**
 * Every component, built-in or plugin, checked the same way: its folder has the standard files, its
 * default config resolves, each config in its testdata loads (and each in testdata/invalid.yaml is
 * refused with its message), and an instance can be created and shut down without being started,
 * and started and shut down twice.
 */
import assert from 'node:assert/strict';
import { standaloneSettings } from '../src/standalone.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Consumer, CreateSettings, Factory, Host, Lifecycle } from '../src/component.js';
import { resolveComponentConfig } from '../src/config/component-config.js';
import { ComponentRegistry, createRegistry } from '../src/registry.js';
import { repoRootOf } from '../src/repo-root.js';

const root = repoRootOf(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'spanmeter-components-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const builtins = (await createRegistry()).list();
const plugins = new ComponentRegistry();
await plugins.loadPlugin('./examples/hash-dimensions/index.js', root);
const all: { factory: Factory; folder: string; builtIn: boolean }[] = [
  ...builtins.map(({ factory, origin }) => ({ factory, folder: join(root, origin), builtIn: true })),
  ...plugins.list().map(({ factory }) => ({ factory, folder: join(root, 'examples', 'hash-dimensions'), builtIn: false })),
];

const sink: Consumer<never> = { consume: async () => {} };
const host: Host = {
  reportFatalError: (e) => {
    throw e;
  },
  setHealthDetail: () => {},
};

let seq = 0;
function settings(f: Factory, config: unknown): CreateSettings<unknown> {
  const id = `${f.type}/t${++seq}`;
  return {
    ...standaloneSettings(id, config, { pipeline: 'p', kind: f.kind, dataDir: mkdtempSync(join(tmp, `${f.type}-`)) }),
    storage: { durable: false },
    nextFor: () => sink,
  };
}

function create(f: Factory, config: unknown): Lifecycle {
  const s = settings(f, config);
  if (f.kind === 'exporter') return f.create(s);
  return f.create(s, sink);
}

/** The configs of a testdata file: id → what is written under it. */
function testdata(folder: string, name: string): [string, unknown][] {
  const file = join(folder, 'testdata', name);
  if (!existsSync(file)) return [];
  return Object.entries((parse(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>);
}

for (const { factory: f, folder, builtIn } of all) {
  describe(`${f.kind} ${f.type}`, () => {
    if (builtIn) {
      it('has the standard files', () => {
        for (const file of ['index.ts', 'config.ts', 'metadata.ts', 'README.md', `${f.type}.ts`, `${f.type}.test.ts`, 'testdata/config.yaml']) {
          assert.ok(existsSync(join(folder, file)), `${folder}/${file} is missing`);
        }
      });
    }

    it('declares its config with defaults (no defaultConfig function)', () => {
      assert.equal(typeof f.defaultConfig, 'undefined');
    });

    const loads = testdata(folder, 'config.yaml');
    it('each testdata/config.yaml entry loads', () => {
      assert.ok(loads.length > 0, 'testdata/config.yaml has at least one config');
      for (const [id, raw] of loads) {
        assert.equal(id.split('/')[0], f.type, `${id}: ids in testdata/config.yaml name this component`);
        const { problems } = resolveComponentConfig(f, raw);
        assert.deepEqual(problems, [], `${id} loads`);
      }
    });

    it('each testdata/invalid.yaml entry is refused with its message', () => {
      for (const [id, entry] of testdata(folder, 'invalid.yaml')) {
        const { config, error } = entry as { config: unknown; error: string };
        const { problems } = resolveComponentConfig(f, config);
        const messages = problems.map((p) => `${p.path.join('.')}: ${p.message}`);
        assert.ok(
          messages.some((m) => m.startsWith(error)),
          `${id}: expected "${error}", got ${JSON.stringify(messages)}`,
        );
      }
    });

    // The lifecycle runs with the first config of testdata/config.yaml (listen on port 0, no remote store needed).
    const first = loads[0]?.[1];
    it('can be created and shut down without being started', async () => {
      const { config, problems } = resolveComponentConfig(f, first);
      assert.deepEqual(problems, []);
      const c = create(f, config);
      await c.shutdown?.(Date.now() + 5_000);
    });

    it('starts and shuts down, each twice without harm', async () => {
      const { config } = resolveComponentConfig(f, first);
      const c = create(f, config);
      await c.start?.(host);
      await c.start?.(host);
      await c.shutdown?.(Date.now() + 5_000);
      await c.shutdown?.(Date.now() + 5_000);
    });
  });
}

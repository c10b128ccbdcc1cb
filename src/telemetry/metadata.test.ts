import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRegistry } from '../registry.js';
import { CORE_METRIC_SETS } from './metadata.js';

describe('core metric declarations', () => {
  const core = CORE_METRIC_SETS.flatMap((s) => Object.values(s.metrics));

  it('follow the naming rules and say what they mean', () => {
    for (const d of core) {
      assert.match(d.name, /^spanmeter_[a-z0-9_]+[a-z0-9]$/, d.name);
      assert.equal(d.name.endsWith('_total'), d.type === 'counter', `${d.name}: counters, and only they, end in _total`);
      assert.ok(d.description.trim().length > 0, `${d.name} has a description`);
      assert.equal(new Set(d.labels).size, d.labels.length, `${d.name}: labels are distinct`);
    }
  });

  it('declare each name once, across the core sets and every component type', async () => {
    const seen = new Map<string, string>();
    const add = (name: string, where: string) => {
      assert.ok(!seen.has(name), `${name} is declared by ${seen.get(name)} and by ${where}`);
      seen.set(name, where);
    };
    for (const s of CORE_METRIC_SETS) for (const d of Object.values(s.metrics)) add(d.name, `core "${s.title}"`);
    for (const { factory: f } of (await createRegistry()).list()) for (const d of Object.values(f.metrics ?? {})) add(d.name, `${f.kind} ${f.type}`);
    assert.ok(seen.size >= core.length);
  });
});

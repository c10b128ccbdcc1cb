import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configOf } from '../../src/config/component-config.js';
import { DebugExporter } from './debug.js';
import factory from './index.js';

describe('debug exporter', () => {
  it('prints a count by default, or every record as a JSON line', async () => {
    const lines: string[] = [];
    const recs = [{ meterApiName: 'm', meterTimeInMillis: 1, meterValue: 2 }];
    await new DebugExporter(configOf(factory), { id: 'debug' }, (l) => lines.push(l)).consume(recs);
    await new DebugExporter(configOf(factory, { verbosity: 'records' }), { id: 'debug/r' }, (l) => lines.push(l)).consume(recs);
    assert.equal(lines[0], '[debug] 1 items (total 1)\n');
    assert.equal(lines[1], `[debug/r] 1 items (total 1):\n${JSON.stringify(recs[0])}\n`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debugExporter } from './index.js';

describe('debug exporter', () => {
  it('prints a count, or every record as a JSON line', async () => {
    const lines: string[] = [];
    const recs = [{ meterApiName: 'm', meterTimeInMillis: 1, meterValue: 2 }];
    await debugExporter('debug', { verbosity: 'count' }, (l) => lines.push(l)).consume(recs);
    await debugExporter('debug/r', { verbosity: 'records' }, (l) => lines.push(l)).consume(recs);
    assert.equal(lines[0], '[debug] 1 items (total 1)\n');
    assert.equal(lines[1], `[debug/r] 1 items (total 1):\n${JSON.stringify(recs[0])}\n`);
  });
});

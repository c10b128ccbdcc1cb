import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeBatch } from '../../src/output/encode.js';
import { FileSink } from './file.js';
import factory from './index.js';

describe('file exporter', () => {
  it('writes the exact encoded bytes under <directory>/<key>, leaving no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-file-'));
    const obj = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: Date.UTC(2026, 1, 3, 4, 5), meterValue: 1 }], { path: 'a/b' });
    await new FileSink().put(obj, { directory: dir, path: 'a/b', label: '' }, new AbortController().signal);
    const leaf = join(dir, 'a', 'b', '2026', '02', '03', '04', '05');
    assert.deepEqual(readdirSync(leaf), [obj.key.split('/').pop()]);
    assert.deepEqual(readFileSync(join(dir, obj.key)), obj.body);
  });

  it('writes durably in place unless spool: true (for network mounts)', async () => {
    assert.equal(new FileSink().durableWrites, true);
    assert.equal(new FileSink({ durableWrites: false }).durableWrites, false);
    const { validateAgainst } = await import('../../src/config/ajv.js');
    assert.deepEqual(validateAgainst(factory.configSchema, { ...factory.defaultConfig(), spool: true }), []);
    assert.notDeepEqual(validateAgainst(factory.configSchema, { ...factory.defaultConfig(), spool: 'sometimes' }), []);
  });

  it('defaults to ./data/out and litellm-metering; rejects a `when` value outside allowed', () => {
    const d = factory.defaultConfig();
    assert.equal(d.directory, './data/out');
    assert.equal(d.path, 'litellm-metering');
    assert.equal(factory.validate!({ ...d, when: { value: 'x', in: [''], allowed: [''] } }).length, 1);
  });
});

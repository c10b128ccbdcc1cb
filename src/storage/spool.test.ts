import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskBudget } from './budget.js';
import { Spool } from './spool.js';

describe('spool', () => {
  it('stores objects durably, lists them oldest first, and finds them after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-spool-'));
    const budget = new DiskBudget(0);
    const spool = Spool.open(dir, budget);
    const a = await spool.put({ key: 'p/2025/01/01/00/00/merged_logs_aaaaaaaa.json.gz', body: Buffer.from('first'), meta: { records: 1 } });
    const b = await spool.put({ key: 'p/2025/01/01/00/01/merged_logs_bbbbbbbb.json.gz', body: Buffer.from('second'), meta: { records: 2 } });
    assert.deepEqual(
      spool.list().map((e) => e.id),
      [a, b],
    );
    assert.equal(budget.usedBytes, spool.bytes);
    writeFileSync(join(dir, 'half-written.spool.tmp'), 'x'); // as if a crash hit mid-put

    const again = Spool.open(dir, new DiskBudget(0));
    assert.deepEqual(
      again.list().map((e) => e.key),
      ['p/2025/01/01/00/00/merged_logs_aaaaaaaa.json.gz', 'p/2025/01/01/00/01/merged_logs_bbbbbbbb.json.gz'],
    );
    assert.ok(!existsSync(join(dir, 'half-written.spool.tmp')), 'temp files from a crash are removed');
    const obj = await again.get(b);
    assert.equal(obj.body.toString(), 'second');
    assert.deepEqual(obj.meta, { records: 2 });
    await again.delete(a);
    assert.deepEqual(
      again.list().map((e) => e.id),
      [b],
    );
    const c = await again.put({ key: 'k', body: Buffer.alloc(0), meta: {} });
    assert.ok(c > b, 'new ids sort after the recovered ones');
    assert.equal(readdirSync(dir).filter((n) => n.endsWith('.spool')).length, 2);
    assert.equal(again.oldest()?.id, b);
  });

  it('oldest() is always the first of list(), through puts, deletes and a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-spool-'));
    let spool = Spool.open(dir);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await spool.put({ key: `k${i}`, body: Buffer.from([i]), meta: {} }));
    for (const [i, id] of ids.entries()) {
      if (i % 3 === 0) {
        await spool.delete(id);
        assert.equal(spool.oldest()?.id, spool.list()[0]?.id);
      }
      if (i === 12) spool = Spool.open(dir); // reopened half way
    }
    while (spool.oldest()) {
      assert.equal(spool.oldest()!.id, spool.list()[0]!.id);
      await spool.delete(spool.oldest()!.id);
    }
    assert.equal(spool.list().length, 0);
  });
});

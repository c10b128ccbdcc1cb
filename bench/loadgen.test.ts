import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { procStats, treeStats } from './loadgen.js';

test('treeStats counts the CPU of a process and its descendants (the workers of --workers N)', async () => {
  // A parent that starts a child; the child burns 400 ms of CPU time (not of wall time: with the
  // tests running two at a time on two cores, 400 ms of wall time gave it as little as 220 ms of
  // CPU), then both wait to be measured. The child exits as soon as its parent is gone (killed at
  // the end), or after 15 s.
  const burn = `const p = process.ppid; while (process.cpuUsage().user < 400e3); setInterval(() => process.ppid !== p && process.exit(), 50); setTimeout(() => process.exit(), 15000);`;
  const parent = spawn(
    process.execPath,
    ['-e', `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(burn)}], { stdio: 'inherit' }); setTimeout(() => {}, 15000);`],
    { stdio: 'ignore' },
  );
  try {
    let tree: ReturnType<typeof treeStats>;
    for (let i = 0; i < 250; i++) {
      await new Promise((r) => setTimeout(r, 50));
      tree = treeStats(parent.pid!);
      if (tree && tree.processes >= 2 && tree.cpuSeconds - procStats(parent.pid!)!.cpuSeconds >= 0.3) break;
    }
    assert.ok(tree!, 'the parent is readable in /proc');
    assert.equal(tree.processes, 2);
    const own = procStats(parent.pid!)!;
    assert.ok(tree.cpuSeconds - own.cpuSeconds >= 0.3, `the child's CPU is included: tree ${tree.cpuSeconds} s, parent ${own.cpuSeconds} s`);
    assert.ok(tree.peakRssMb > own.peakRssMb, 'peak RSS summed over the tree');
  } finally {
    parent.kill('SIGKILL');
  }
  assert.equal(treeStats(2 ** 22 + 12345), undefined, 'no such process');
});

test('the workload bills the same calls in both layouts: one per three spans, unique per run', async () => {
  const { Template } = await import('./loadgen.js');
  const { decodeOtlpProto } = await import('../src/otlp/index.js');
  const { LitellmProcessor } = await import('../processors/litellm/litellm.js');
  const calls = (layout: 'v1.79' | 'v2', run: number) => LitellmProcessor.convert(decodeOtlpProto(new Template(170, 1, layout).instance(run).body));
  const v1 = calls('v1.79', 1);
  const v2 = calls('v2', 1);
  assert.equal(v1.length, 170);
  assert.equal(v2.length, 170);
  assert.ok(v2.every((c) => c.layout === 'litellm.v2.legacy'));
  const facts = (cs: typeof v1) => cs.map((c) => [c.usage.promptTokens, c.usage.completionTokens, c.error?.code ?? null, c.teamId, c.keyAlias]);
  assert.deepEqual(facts(v2), facts(v1));
  assert.notDeepEqual(
    calls('v2', 2).map((c) => c.callId),
    v2.map((c) => c.callId),
    'another run, other call ids',
  );
});

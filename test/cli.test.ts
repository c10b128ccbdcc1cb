import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';
import { runCli } from './helpers/process.js';

async function cli(args: string[], env: Record<string, string> = {}) {
  const c = runCli(args, env);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

describe('spanmeter CLI', () => {
  it('validate exits 0 on the shipped pipeline.yaml', async () => {
    const r = await cli(['validate', '--config', 'pipeline.yaml']);
    assert.equal(r.code, 0, r.stderr);
    // The exporters are a fan-out (each gets every batch), the ones AFLO_BACKEND_TYPE does not pick dormant.
    assert.equal(
      r.stdout,
      [
        'pipeline.yaml: valid (1 pipeline)',
        '  metering: otlp → litellm → amberflo → batch → 4 exporters, each gets every batch (1 active, 3 dormant):',
        '      - file',
        '      - s3 (dormant: the selector is (unset), active only for s3)',
        '      - azureblob (dormant: the selector is (unset), active only for azure-blob)',
        '      - amberflo (dormant: the selector is (unset), active only for api)',
        '',
      ].join('\n'),
    );
  });

  it('validate names the active sink when AFLO_BACKEND_TYPE picks another one', async () => {
    const r = await cli(['validate', '--config', 'pipeline.yaml'], { AFLO_BACKEND_TYPE: 'api', AFLO_API_KEY: 'k' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {6}- file \(dormant: the selector is api, active only for \(unset\)\)$/m);
    assert.match(r.stdout, /^ {6}- amberflo$/m);
  });

  it('validate reports every error of a broken config with lines, and exits 1', async () => {
    const file = join(repoRoot(), 'test', 'fixtures', 'config', 'broken.yaml');
    const r = await cli(['validate', '--config', file]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines[0], `${file}: 5 errors`);
    assert.deepEqual(lines.slice(1), [
      `${file}:4 receivers.kafka: unknown receiver type "kafka"; known receivers: litellm_logs, otlp`,
      `${file}:7 processors.batch.timeout: must be a duration like "5s", "300ms" or "1m30s", not "soon"`,
      `${file}:8 processors.batch.send_batch_sise: unknown key (did you mean "send_batch_size"?)`,
      `${file}:11 exporters.file.directory: environment variable SPANMETER_TEST_MISSING_DIR is not set and has no default (write \${env:SPANMETER_TEST_MISSING_DIR:-default})`,
      `${file}:16 service.pipelines.broken.exporters[0]: exporter "file" consumes meter_events but the pipeline delivers spans (from receiver "otlp"); add the litellm and amberflo processors before it`,
    ]);
  });

  it('run refuses to start on an invalid config, listing the errors', async () => {
    const r = await cli(['run', '--config', join(repoRoot(), 'test', 'fixtures', 'config', 'broken.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid configuration \(5 errors\)/);
    assert.match(r.stderr, /processors\.batch\.timeout: must be a duration like "5s", "300ms" or "1m30s", not "soon"/);
  });

  it('components lists every built-in with its config keys', async () => {
    const r = await cli(['components', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { kind: string; type: string; keys: { key: string }[] }[];
    const names = rows.map((x) => `${x.kind}:${x.type}`);
    for (const expected of ['receiver:otlp', 'processor:litellm', 'processor:amberflo', 'processor:batch', 'exporter:file']) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
    const batch = rows.find((x) => x.type === 'batch')!;
    assert.ok(batch.keys.some((k) => k.key === 'send_batch_size'));
    const text = await cli(['components']);
    assert.match(text.stdout, /^receivers:\n {2}\S+/m);
  });

  it('prints --version and --help', async () => {
    const v = await cli(['--version']);
    assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
    const h = await cli(['--help']);
    assert.match(h.stdout, /run \[options\]/);
    assert.match(h.stdout, /validate \[options\]/);
    assert.match(h.stdout, /components \[options\]/);
  });
});

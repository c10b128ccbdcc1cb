/**
 * `spanmeter run --workers N`: shared ports, a log and spool per worker, aggregated metrics, status
 * (`/status`, `spanmeter status`, `/health/ready`, throughput) over every worker and per worker,
 * clean stop.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, readGzipJsonFiles, runCli, startShippedPipeline } from './helpers/process.js';

describe('--workers', () => {
  it('runs two workers behind one port and loses nothing on SIGTERM', async () => {
    const { cli, dir, traces, admin } = await startShippedPipeline({}, { args: ['--workers', '2'] });
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let k = 0; k < 10; k++) {
          const id = `chatcmpl-workers-${c}-${k}`;
          const res = await http('POST', traces, JSON.stringify(otlpRequest([{ responseId: id }])), {
            'content-type': 'application/json',
            connection: 'close', // new connections: the primary spreads them over the workers
          });
          assert.equal(res.status, 200, res.body.toString());
          ids.push(id);
        }
      }),
    );
    const metrics = (await http('GET', `${admin}/metrics`)).body.toString();
    const accepted = /spanmeter_receiver_accepted_spans_total\{receiver="otlp",transport="http"\} (\d+)/.exec(metrics);
    assert.equal(Number(accepted?.[1]), 40 * 3, 'metrics are aggregated over both workers');

    // /status: both workers, each with its version, state, log and open batch; totals on top.
    const status = JSON.parse((await http('GET', `${admin}/status`)).body.toString()) as Record<string, any>;
    assert.equal(status.state, 'running');
    assert.equal(typeof status.version, 'string');
    assert.equal(status.workers.length, 2);
    const open = status.workers.map((w: any) => {
      assert.equal(w.state, 'running', JSON.stringify(w));
      assert.equal(w.version, status.version);
      assert.match(w.instanceId, new RegExp(`-w${w.worker}$`));
      assert.equal(w.wal.length, 1);
      assert.equal(w.states['exporter:s3'].state, 'dormant');
      return w.components['processor:metering/batch'].openBatch.records as number;
    }) as number[];
    // Every accepted call is in some worker's open batch (4 records a call; 40 calls < 100 a batch).
    assert.equal(
      open.reduce((a, b) => a + b, 0),
      40 * 4,
      `open batches: ${open.join(' + ')}`,
    );
    assert.deepEqual(status.wal.map((w: any) => w.worker).sort(), [0, 1]);
    assert.equal(status.states['exporter:file'].state, 'started');

    // /health/ready (the status page's component list) names every component, per worker too.
    const ready = JSON.parse((await http('GET', `${admin}/health/ready`)).body.toString()) as Record<string, any>;
    assert.equal(ready.components['receiver:otlp'], 'started');
    assert.equal(ready.components['exporter:azureblob'], 'dormant');
    assert.deepEqual(
      ready.workers.map((w: any) => [w.worker, w.ready]),
      [
        [0, true],
        [1, true],
      ],
    );

    // The chart's series: both workers' traffic summed, from the first seconds.
    const deadlineSeries = Date.now() + 5_000;
    let peak = 0;
    while (Date.now() < deadlineSeries) {
      const series = JSON.parse((await http('GET', `${admin}/status/series`)).body.toString()) as { series: Record<string, { values: (number | null)[] }> };
      peak = Math.max(0, ...(series.series['receiver otlp accepted/s']?.values ?? []).map((v) => v ?? 0));
      if (peak > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(peak > 0, 'the throughput series shows the traffic');

    // `spanmeter status`: the address from SPANMETER_METRICS_ADDRESS, then from --config.
    const address = admin.replace('http://', '');
    const viaEnv = runCli(['status'], { SPANMETER_METRICS_ADDRESS: address });
    assert.equal((await viaEnv.exited).code, 0, viaEnv.stderr());
    const text = viaEnv.stdout();
    assert.match(text, /^spanmeter \S+ \(instance \S+\): running, 2 workers$/m);
    assert.doesNotMatch(text, /undefined/);
    for (const i of [0, 1]) assert.match(text, new RegExp(`^worker ${i} \\(pid \\d+, instance \\S+-w${i}\\): running$`, 'm'));
    assert.equal((text.match(/^ {4}open batch: \d+ records? \(/gm) ?? []).length, 2, text);
    assert.equal((text.match(/^ {4}dormant: the selector is \(unset\), active only for s3$/gm) ?? []).length, 2, text);
    const cfg = join(dir, 'admin.yaml');
    writeFileSync(
      cfg,
      `receivers:\n  otlp: {}\nprocessors:\n  litellm: {}\n  amberflo: {}\nexporters:\n  file:\n    directory: ${join(dir, 'unused')}\nservice:\n  telemetry:\n    metrics:\n      address: ${address.replace('127.0.0.1', '0.0.0.0')}\n  pipelines:\n    m:\n      receivers: [otlp]\n      processors: [litellm, amberflo]\n      exporters: [file]\n`,
    );
    const viaConfig = runCli(['status', '--config', cfg, '--json'], { SPANMETER_METRICS_ADDRESS: '' });
    assert.equal((await viaConfig.exited).code, 0, viaConfig.stderr());
    assert.equal((JSON.parse(viaConfig.stdout()) as { workers: unknown[] }).workers.length, 2);
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr());
    assert.ok(existsSync(join(dir, 'data', 'worker-0')) && existsSync(join(dir, 'data', 'worker-1')), 'one data dir per worker');
    const written = readGzipJsonFiles(join(dir, 'out')).flatMap((f) =>
      f.records.filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId)),
    );
    assert.deepEqual(written.sort(), ids.sort());
  });
});

/** `spanmeter run --workers 2`: shared ports, a log and spool per worker, aggregated metrics, clean stop. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, readGzipJsonFiles, startShippedPipeline } from './helpers/process.js';

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
    cli.child.kill('SIGTERM');
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.stderr());
    assert.ok(existsSync(join(dir, 'data', 'worker-0')) && existsSync(join(dir, 'data', 'worker-1')), 'one data dir per worker');
    const written = readGzipJsonFiles(join(dir, 'out')).flatMap((f) => f.records.filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId)));
    assert.deepEqual(written.sort(), ids.sort());
  });
});

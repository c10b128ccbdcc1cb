/**
 * End to end through the real CLI and the shipped pipeline.yaml: OTLP/JSON over HTTP in,
 * gzip JSON files out; graceful shutdown on SIGTERM while idle and while receiving.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cleaned } from './helpers/clean-oracle.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { conformanceDir } from './helpers/paths.js';
import { http, readGzipJsonFiles, startShippedPipeline, type Cli } from './helpers/process.js';

const start = (extraEnv: Record<string, string> = {}) => startShippedPipeline(extraEnv);

async function stop(cli: Cli): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  cli.child.kill('SIGTERM');
  const { code } = await cli.exited;
  return { code, ms: Date.now() - t0 };
}

const json = { 'content-type': 'application/json' };

describe('default pipeline (npm start) end to end', () => {
  it('turns a conformance request posted as OTLP/JSON into the clean-mode records, flushed on SIGTERM', async (t) => {
    const conf = conformanceDir();
    if (!conf) return t.skip('../shared/conformance is not present: skipping the conformance request');
    const folder = join(conf, 'openai-gpt-4o.completion');
    const { cli, out, traces } = await start({ AFLO_HOSTED_ENV: 'agent1', AFLO_SEND_OBJECT_METADATA: 'true' });
    const res = await http('POST', traces, readFileSync(join(folder, 'spans.v1.79.otlp.json')), json);
    assert.equal(res.status, 200, res.body.toString());
    const { code } = await stop(cli);
    assert.equal(code, 0, cli.stderr());
    const files = readGzipJsonFiles(out);
    assert.equal(files.length, 1, `expected one file, found ${files.map((f) => f.file).join(', ')}`);
    // Partitioned by the UTC minute of the batch's first record (1764355422941 = 2025-11-28T18:43:42Z).
    assert.match(files[0]!.file, /^litellm-metering\/2025\/11\/28\/18\/43\/merged_logs_[0-9a-f]{8}\.json\.gz$/);
    const expected = cleaned(JSON.parse(readFileSync(join(folder, 'expected.from-spans.v1.79.json'), 'utf8')) as Record<string, unknown>[]);
    assert.deepEqual(files[0]!.records, expected);
  });

  it('writes the batch when the flush interval (AFLO_FLUSH_INTERVAL) elapses', async () => {
    const { cli, out, traces, admin } = await start({ AFLO_FLUSH_INTERVAL: '1' });
    try {
      const res = await http('POST', traces, JSON.stringify(otlpRequest([{ responseId: 'chatcmpl-interval-1' }])), json);
      assert.equal(res.status, 200, res.body.toString());
      const deadline = Date.now() + 15_000;
      while (readGzipJsonFiles(out).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const files = readGzipJsonFiles(out);
      assert.equal(files.length, 1, 'a file is written by the timer, before shutdown');
      const calls = files[0]!.records.filter((r) => r.meterApiName === 'llm_api_call');
      assert.deepEqual(calls.map((r) => r.uniqueId), ['chatcmpl-interval-1']);
      const metrics = (await http('GET', `${admin}/metrics`)).body.toString();
      assert.match(metrics, /spanmeter_receiver_accepted_spans_total\{receiver="otlp",transport="http"\} 3/);
    } finally {
      await stop(cli);
    }
  });

  it('exits promptly on SIGTERM while idle', async () => {
    const { cli } = await start();
    const { code, ms } = await stop(cli);
    assert.equal(code, 0, cli.stderr());
    assert.ok(ms < 10_000, `took ${ms} ms`);
  });

  it('loses nothing it acknowledged when SIGTERM arrives while receiving', async (t) => {
    const { cli, out, traces } = await start({ AFLO_BATCH_SIZE: '50' });
    const acked: string[] = [];
    let refused = 0;
    let n = 0;
    let stopping = false;
    const sender = async () => {
      while (!stopping || n < 40) {
        const ids = [0, 1, 2].map(() => `chatcmpl-sigterm-${n++}`);
        try {
          const res = await http('POST', traces, JSON.stringify(otlpRequest(ids.map((responseId) => ({ responseId })))), json);
          if (res.status === 200) acked.push(...ids);
          else refused += ids.length;
        } catch {
          // Connection refused or reset: the receiver has stopped accepting.
          if (stopping) return;
          refused += ids.length;
        }
        if (n > 3000) return;
      }
    };
    const senders = [sender(), sender(), sender(), sender()];
    while (acked.length < 60) await new Promise((r) => setTimeout(r, 5));
    stopping = true;
    const stopped = stop(cli);
    await Promise.all(senders);
    const { code } = await stopped;
    assert.equal(code, 0, cli.stderr());
    const written = readGzipJsonFiles(out).flatMap((f) => f.records.filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId)));
    const writtenSet = new Set(written);
    const missing = acked.filter((id) => !writtenSet.has(id));
    assert.deepEqual(missing, [], `acknowledged but not written: ${missing.length} of ${acked.length}`);
    assert.equal(written.length, writtenSet.size, 'no call written twice');
    assert.ok(acked.length >= 60);
    t.diagnostic(`acked ${acked.length}, refused ${refused}, written ${written.length}`);
  });
});

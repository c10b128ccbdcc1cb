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
import { conformanceDir, conformanceSkip, repoRoot } from './helpers/paths.js';
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
  it("the README's quick start: its curl posts an example request from the repository, and stopping writes one file with its records", async () => {
    const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
    // The first curl command of the README, with its continuation lines.
    const lines = readme.split('\n');
    const first = lines.findIndex((l) => l.startsWith('curl '));
    let last = first;
    while (last >= 0 && lines[last]!.endsWith('\\')) last++;
    const curl = first >= 0 ? lines.slice(first, last + 1).join('\n') : '';
    const file = /--data-binary @(\S+)/.exec(curl)?.[1];
    assert.ok(file, `the README's curl posts a file: ${curl}`);
    assert.match(curl, /http:\/\/127\.0\.0\.1:4318\/v1\/traces/);
    const body = readFileSync(join(repoRoot(), file));
    // What the request says, read from it: the billing span's tokens, times and response id.
    const span = (
      JSON.parse(body.toString()) as {
        resourceSpans: {
          scopeSpans: { spans: { attributes: { key: string; value: Record<string, unknown> }[]; startTimeUnixNano: string; endTimeUnixNano: string }[] }[];
        }[];
      }
    ).resourceSpans
      .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      .find((s) => s.attributes.some((a) => a.key === 'llm.request.type'))!;
    const attr = (k: string) => Object.values(span.attributes.find((a) => a.key === k)!.value)[0];
    const startMs = Math.round(Number(BigInt(span.startTimeUnixNano) / 1000n) / 1000);
    const { cli, out, traces } = await start();
    const res = await http('POST', traces, body, json);
    assert.equal(res.status, 200, res.body.toString());
    const { code } = await stop(cli);
    assert.equal(code, 0, cli.stderr());
    const files = readGzipJsonFiles(out);
    assert.equal(files.length, 1, files.map((f) => f.file).join(', '));
    const d = new Date(startMs);
    const minute = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]
      .map((n) => String(n).padStart(2, '0'))
      .join('/');
    assert.match(files[0]!.file, new RegExp(`^litellm-metering/${minute}/merged_logs_[0-9a-f]{8}\\.json\\.gz$`));
    const got = files[0]!.records.map(
      (r) => `${r.meterApiName}${(r.dimensions as Record<string, string>).type ? `:${(r.dimensions as Record<string, string>).type}` : ''}=${r.meterValue}`,
    );
    const durationMs = Math.round(Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6);
    assert.deepEqual(got, [
      'llm_api_call=1',
      `llm_api_call_ms=${durationMs}`,
      `llm_text_tokens:in=${attr('gen_ai.usage.prompt_tokens')}`,
      `llm_text_tokens:out=${attr('gen_ai.usage.completion_tokens')}`,
    ]);
    assert.ok(files[0]!.records.every((r) => r.uniqueId === attr('gen_ai.response.id') && r.meterTimeInMillis === startMs));
  });

  it(
    'turns a conformance request posted as OTLP/JSON into the clean-mode records, flushed on SIGTERM',
    { skip: conformanceSkip('the conformance request through the default pipeline') },
    async () => {
      const conf = conformanceDir()!;
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
    },
  );

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
      assert.deepEqual(
        calls.map((r) => r.uniqueId),
        ['chatcmpl-interval-1'],
      );
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

/**
 * One owner per data directory, end to end: a second collector started on the directory of a
 * running one exits at once with a message naming the directory and the owner's PID, and the
 * first keeps every call it acknowledged; after a SIGKILL the lock is stale and a new collector
 * takes it over.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { freePort, http, readGzipJsonFiles, runCli, startShippedPipeline } from './helpers/process.js';

describe('data directory lock (two processes, one directory)', () => {
  it('a second collector on the same directory refuses at once, naming it and the owner PID; nothing is lost', { timeout: 120_000 }, async () => {
    const first = await startShippedPipeline({ AFLO_FLUSH_INTERVAL: '1' });
    try {
      const [h, g, a] = [await freePort(), await freePort(), await freePort()];
      const t0 = Date.now();
      const second = runCli(['run', '--config', 'pipeline.yaml'], {
        SPANMETER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${h}`,
        SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${g}`,
        SPANMETER_METRICS_ADDRESS: `127.0.0.1:${a}`,
        SPANMETER_OUT_DIR: first.out,
        SPANMETER_DATA_DIR: join(first.dir, 'data'),
        SPANMETER_LOG_LEVEL: 'warn',
      });
      const { code } = await second.exited;
      assert.equal(code, 1);
      assert.ok(Date.now() - t0 < 15_000, 'refused at once');
      assert.match(
        second.stderr(),
        new RegExp(`data directory .*${join(first.dir, 'data').replace(/[/\\]/g, '.')} is in use by process ${first.cli.child.pid}`),
      );

      const ids = Array.from({ length: 50 }, (_, i) => `chatcmpl-lock-${i}`);
      for (let i = 0; i < ids.length; i += 5) {
        const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.slice(i, i + 5).map((responseId) => ({ responseId }))))));
        assert.equal((await http('POST', first.traces, body, { 'content-type': 'application/x-protobuf' })).status, 200);
      }
      first.cli.child.kill('SIGTERM');
      assert.equal((await first.cli.exited).code, 0);
      const billed = readGzipJsonFiles(first.out)
        .flatMap((f) => f.records)
        .filter((r) => r.meterApiName === 'llm_api_call')
        .map((r) => r.uniqueId);
      assert.deepEqual([...billed].sort(), [...ids].sort());

      // After a SIGKILL the lock is stale: the next collector takes it over and starts.
      const again = await startShippedPipeline({}, { dir: first.dir });
      again.cli.child.kill('SIGKILL');
      await again.cli.exited;
      const third = await startShippedPipeline({}, { dir: first.dir });
      third.cli.child.kill('SIGTERM');
      assert.equal((await third.cli.exited).code, 0);
    } finally {
      first.cli.child.kill('SIGKILL');
      rmSync(first.dir, { recursive: true, force: true });
    }
  });
});

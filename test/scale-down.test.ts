/**
 * Kubernetes scale-down, the way out (deploy/kubernetes/README.md): a removed replica's volume is
 * mounted by no other pod, so the pod drains itself on SIGTERM within the grace period. With the
 * s3 exporter and its spool, and batches that would not be cut for minutes, a SIGTERM delivers
 * every acknowledged call and leaves nothing in the log or the spool.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeOtlpProto, fromOtlpJson } from '../src/otlp/index.js';
import { readCheckpointFile } from '../src/storage/wal.js';
import { readBucket, s3Env } from './helpers/crash.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, listFiles, startShippedPipeline } from './helpers/process.js';
import { LocalS3 } from './helpers/s3rver.js';

describe('scale-down: drain on SIGTERM', () => {
  const s3 = new LocalS3(['drain-bucket']);
  before(() => s3.start().then(() => undefined));
  after(() => s3.dispose());

  it('delivers every acknowledged call and leaves the volume with nothing to deliver', { timeout: 120_000 }, async () => {
    const c = await startShippedPipeline({ ...s3Env(s3.endpoint, 'drain-bucket'), AFLO_FLUSH_INTERVAL: '300' });
    try {
      const ids = Array.from({ length: 200 }, (_, i) => `chatcmpl-drain-${i}`);
      for (let i = 0; i < ids.length; i += 5) {
        const body = Buffer.from(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.slice(i, i + 5).map((responseId) => ({ responseId }))))));
        assert.equal((await http('POST', c.traces, body, { 'content-type': 'application/x-protobuf' })).status, 200);
      }
      c.cli.child.kill('SIGTERM');
      assert.equal((await c.cli.exited).code, 0, c.cli.stderr());
      const billed = (await readBucket(s3.endpoint, 'drain-bucket')).filter((r) => r.meterApiName === 'llm_api_call').map((r) => String(r.uniqueId));
      assert.deepEqual(billed.sort(), [...ids].sort());
      const data = join(c.dir, 'data');
      const walDir = join(data, 'wal', 'metering');
      const checkpoint = readCheckpointFile(join(walDir, 'checkpoint')).seq;
      const segments = readdirSync(walDir).filter((n) => n.endsWith('.log'));
      assert.ok(checkpoint > 0);
      assert.deepEqual(segments, [], 'every log segment is covered by the checkpoint and deleted');
      assert.deepEqual(
        listFiles(join(data, 'exporters')).filter((f) => f.includes('/spool/')),
        [],
        'the spools are empty',
      );
    } finally {
      c.cli.child.kill('SIGKILL');
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});

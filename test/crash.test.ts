/**
 * Crash test: LiteLLM-shaped OTLP requests from a client that counts its acknowledged calls, while
 * the collector is SIGKILLed at random moments and restarted on the same data directory (see
 * ./helpers/crash.ts). Afterwards, across every output object, every acknowledged call is there
 * and no record is there twice: nothing is de-duplicated before counting.
 *
 * `npm test` runs a reduced size; `npm run test:chaos` sets SPANMETER_CHAOS=1 for the full size.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExactlyOnce, crashRun, readBucket, s3Env } from './helpers/crash.js';
import { readGzipJsonFiles } from './helpers/process.js';
import { LocalS3 } from './helpers/s3rver.js';

describe('crash safety: exactly once across SIGKILLs', () => {
  const files: { label: string; env: Record<string, string> }[] = [
    // The shipped pipeline.yaml as it is, with a short flush interval so batches are cut by time too.
    { label: 'shipped pipeline.yaml (batch 100, merging on, flush 2 s)', env: { AFLO_FLUSH_INTERVAL: '2' } },
    // Batches cut across requests (20 is not a multiple of a request's records), through the spool.
    { label: 'file exporter through its spool, batch 20, flush 1 s', env: { AFLO_BATCH_SIZE: '20', AFLO_FLUSH_INTERVAL: '1', SPANMETER_FILE_SPOOL: 'true' } },
    // Merging off (send_batch_max_size = send_batch_size), batch 37.
    { label: 'file exporter, merging off, batch 37', env: { AFLO_BATCH_SIZE: '37', SPANMETER_BATCH_MAX_SIZE: '37', AFLO_FLUSH_INTERVAL: '1' } },
  ];
  for (const { label, env } of files) {
    it(`${label}: no acknowledged call lost, no record written twice`, { timeout: 900_000 }, async (t) => {
      const run = await crashRun(env);
      assertExactlyOnce(
        t,
        run,
        readGzipJsonFiles(join(run.dir, 'out')).flatMap((f) => f.records),
        label,
      );
      rmSync(run.dir, { recursive: true, force: true }); // kept when an assertion fails, to look into
    });
  }

  describe('s3 exporter (s3rver) with its spool', () => {
    const s3 = new LocalS3(['crash-bucket']);
    before(() => s3.start().then(() => undefined));
    after(() => s3.dispose());

    it('no acknowledged call lost, no record in two objects', { timeout: 900_000 }, async (t) => {
      const run = await crashRun({ ...s3Env(s3.endpoint, 'crash-bucket'), AFLO_BATCH_SIZE: '20', AFLO_FLUSH_INTERVAL: '1' });
      const records = await readBucket(s3.endpoint, 'crash-bucket');
      assertExactlyOnce(t, run, records, 's3 exporter, spool, batch 20, flush 1 s');
      rmSync(run.dir, { recursive: true, force: true });
    });
  });
});

/**
 * The shipped pipeline.yaml through the real CLI: OTLP/JSON in over HTTP → litellm → amberflo →
 * batch → the sink chosen by AFLO_BACKEND_TYPE. The same LiteLLM calls are sent with the sink
 * unset (local files, the oracle) and set to s3 (s3rver), azure-blob (Azurite) and api (a local
 * ingest server); every sink must hold exactly the same records.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { LocalAzurite } from './helpers/azurite.js';
import { otlpRequest } from './helpers/litellm-spans.js';
import { http, readGzipJsonFiles, startShippedPipeline } from './helpers/process.js';
import { LocalS3, S3RVER_CREDENTIALS } from './helpers/s3rver.js';

type Rec = Record<string, unknown>;
const canon = (rs: Rec[]) => rs.map((r) => JSON.stringify(r)).sort();
const calls = Array.from({ length: 60 }, (_, i) => ({
  responseId: `chatcmpl-sink-${i}`,
  promptTokens: 100 + i,
  completionTokens: 7 + i,
  businessUnit: `bu-${i % 3}`,
}));

/** Runs the CLI with `env`, posts the calls in 6 requests, stops it with SIGTERM. */
async function runOnce(env: Record<string, string>): Promise<{ out: string; stderr: string }> {
  const { cli, out, traces } = await startShippedPipeline({ AFLO_BATCH_SIZE: '25', ...env }, { readyTimeoutMs: 30_000 });
  try {
    for (let i = 0; i < calls.length; i += 10) {
      const res = await http('POST', traces, JSON.stringify(otlpRequest(calls.slice(i, i + 10))), { 'content-type': 'application/json' });
      assert.equal(res.status, 200, res.body.toString());
    }
  } finally {
    cli.child.kill('SIGTERM');
  }
  const { code } = await cli.exited;
  assert.equal(code, 0, cli.stderr());
  return { out, stderr: cli.stderr() };
}

describe('shipped pipeline.yaml: AFLO_BACKEND_TYPE switches the sink, same records everywhere', () => {
  let oracle: Rec[] = [];
  const s3 = new LocalS3(['aflo-bucket']);
  const azurite = new LocalAzurite();
  let api: Server;
  const posted: Rec[] = [];
  const apiKeys = new Set<string>();

  before(async () => {
    await s3.start();
    if (LocalAzurite.available()) await azurite.start();
    api = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        apiKeys.add(String(req.headers['x-api-key']));
        posted.push(...(JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) as Rec[]));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await s3.dispose();
    await azurite.stop();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    api?.closeAllConnections();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    api?.close();
  });

  it('unset: local files (the oracle)', async () => {
    const { out } = await runOnce({ AFLO_BACKEND_TYPE: '' });
    const files = readGzipJsonFiles(out);
    oracle = files.flatMap((f) => f.records);
    const billed = oracle.filter((r) => r.meterApiName === 'llm_api_call').map((r) => r.uniqueId);
    assert.deepEqual([...billed].sort(), calls.map((c) => c.responseId).sort(), 'one llm_api_call record per call');
    for (const f of files) assert.match(f.file, /^litellm-metering\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}\/merged_logs_[0-9a-f]{8}\.json\.gz$/);
  });

  it('s3: the same records in the bucket (s3rver, AWS SDK credential chain from the environment)', async () => {
    assert.ok(oracle.length > 0);
    await runOnce({
      AFLO_BACKEND_TYPE: 's3',
      AFLO_BUCKET_NAME: 'aflo-bucket',
      AFLO_PATH: 'metering/litellm',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      SPANMETER_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    });
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const got: Rec[] = [];
    const list = await client.send(new ListObjectsV2Command({ Bucket: 'aflo-bucket' }));
    for (const o of list.Contents ?? []) {
      assert.match(o.Key!, /^metering\/litellm\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}\/merged_logs_[0-9a-f]{8}\.json\.gz$/);
      const g = await client.send(new GetObjectCommand({ Bucket: 'aflo-bucket', Key: o.Key! }));
      got.push(...(JSON.parse(gunzipSync(await g.Body!.transformToByteArray()).toString()) as Rec[]));
    }
    client.destroy();
    assert.deepEqual(canon(got), canon(oracle));
  });

  it('azure-blob: the same records in the container (Azurite, connection string)', async (t) => {
    if (!LocalAzurite.available()) {
      t.skip('azurite is not installed');
      return;
    }
    const cc = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('aflo-container');
    await cc.createIfNotExists();
    await runOnce({ AFLO_BACKEND_TYPE: 'azure-blob', AFLO_CONTAINER_NAME: 'aflo-container', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString });
    const got: Rec[] = [];
    for await (const b of cc.listBlobsFlat()) got.push(...(JSON.parse(gunzipSync(await cc.getBlockBlobClient(b.name).downloadToBuffer()).toString()) as Rec[]));
    assert.deepEqual(canon(got), canon(oracle));
  });

  it('api: the same records posted to the ingest API with AFLO_API_KEY (bare-host AFLO_API_ENDPOINT)', async () => {
    await runOnce({ AFLO_BACKEND_TYPE: 'api', AFLO_API_KEY: 'secret-key', AFLO_API_ENDPOINT: `http://127.0.0.1:${(api.address() as AddressInfo).port}` });
    assert.deepEqual([...apiKeys], ['secret-key']);
    assert.deepEqual(canon(posted), canon(oracle));
  });
});

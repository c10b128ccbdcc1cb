/** Reads back the objects the s3 exporter wrote (`spanmeter report`, `spanmeter reconcile`). */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ObjectReader } from '../../src/report/objects.js';
import { joinKey } from '../../src/output/encode.js';
import type { S3ExporterConfig } from './config.js';
import { clientConfig } from './s3.js';

export class S3Reader implements ObjectReader {
  readonly label: string;
  readonly path: string;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(c: S3ExporterConfig) {
    // Reads retry with the SDK's standard policy (the exporter's own retries are for writes).
    this.client = new S3Client({ ...clientConfig(c), maxAttempts: 3 });
    this.bucket = c.bucket;
    this.path = joinKey(c.path);
    this.label = `s3://${c.bucket}/${this.path}`;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size?: number }> {
    let token: string | undefined;
    do {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size };
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async get(key: string): Promise<Buffer> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  }

  close(): void {
    this.client.destroy();
  }
}

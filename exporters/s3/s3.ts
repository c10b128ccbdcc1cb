/** Uploads encoded objects to S3 (or an S3-compatible store) with the AWS SDK v3. */
import { GetObjectCommand, PutObjectCommand, S3Client, type PutObjectCommandInput, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { putWithoutReplacing, type ConditionalPut, type EncodedObject } from '../../src/output/encode.js';
import { alternateKey } from '../../integrations/amberflo/objects.js';
import { errInfo, type Destination, type ObjectSink } from '../../src/output/delivery.js';
import type { S3ExporterConfig } from './config.js';

export interface S3Destination extends Destination {
  bucket: string;
}

export function clientConfig(c: S3ExporterConfig): S3ClientConfig {
  const cfg: S3ClientConfig = {
    // spanmeter retries itself (jittered backoff, Retry-After, max elapsed); one SDK attempt per try.
    maxAttempts: 1,
    // Checksums only when S3 requires them: S3-compatible stores often reject the newer defaults.
    requestChecksumCalculation: c.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
    responseChecksumValidation: c.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
  };
  if (c.region) cfg.region = c.region;
  if (c.endpoint) cfg.endpoint = c.endpoint;
  if (c.force_path_style) cfg.forcePathStyle = true;
  if (c.access_key_id && c.secret_access_key) {
    cfg.credentials = {
      accessKeyId: c.access_key_id,
      secretAccessKey: c.secret_access_key,
      ...(c.session_token ? { sessionToken: c.session_token } : {}),
    };
  }
  return cfg;
}

export class S3Sink implements ObjectSink<S3Destination> {
  readonly client: S3Client;

  constructor(private readonly c: S3ExporterConfig) {
    this.client = new S3Client(clientConfig(c));
  }

  params(obj: EncodedObject, dest: S3Destination, key = obj.key): PutObjectCommandInput {
    const p: PutObjectCommandInput = {
      Bucket: dest.bucket,
      Key: key,
      Body: obj.body,
      ContentType: obj.contentType,
      ContentEncoding: obj.contentEncoding,
    };
    const sse = this.c.server_side_encryption;
    if (sse) {
      p.ServerSideEncryption = sse;
      if (sse === 'aws:kms' && this.c.kms_key_id) p.SSEKMSKeyId = this.c.kms_key_id;
    }
    if (this.c.storage_class) p.StorageClass = this.c.storage_class;
    if (this.c.acl) p.ACL = this.c.acl;
    return p;
  }

  /**
   * Uploads the object without replacing another one ({@link putWithoutReplacing}): the PUT carries
   * `If-None-Match: *` (`conditional_put`), and when S3 answers 412 the object under the key is read
   * and compared. Stores that ignore the header (s3rver, some S3-compatible ones) overwrite, as
   * every PUT did before; multipart uploads (objects ≥ multipart_threshold_bytes) are not
   * conditional.
   */
  async put(obj: EncodedObject, dest: S3Destination, signal: AbortSignal): Promise<void> {
    await putWithoutReplacing(obj, (key) => this.tryPut(obj, dest, key, signal), `s3 exporter (s3://${dest.bucket})`, alternateKey);
  }

  private async tryPut(obj: EncodedObject, dest: S3Destination, key: string, signal: AbortSignal): Promise<ConditionalPut> {
    try {
      await this.upload(obj, dest, key, signal);
      return 'written';
    } catch (e) {
      if (errInfo(e).status !== 412) throw e;
    }
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: dest.bucket, Key: key }), { abortSignal: signal });
      return got.Body ? await got.Body.transformToByteArray() : new Uint8Array(0);
    } catch (e) {
      if (errInfo(e).status === 403) return 'unreadable';
      // 404: deleted since the PUT found it; the retry writes it again.
      throw e;
    }
  }

  private async upload(obj: EncodedObject, dest: S3Destination, key: string, signal: AbortSignal): Promise<void> {
    const params = this.params(obj, dest, key);
    if (obj.body.length < this.c.multipart_threshold_bytes) {
      await this.client.send(new PutObjectCommand({ ...params, ContentLength: obj.body.length, ...(this.c.conditional_put ? { IfNoneMatch: '*' } : {}) }), {
        abortSignal: signal,
      });
      return;
    }
    const upload = new Upload({
      client: this.client,
      params,
      queueSize: 2,
      partSize: Math.max(5 * 1024 * 1024, this.c.multipart_part_size_bytes),
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}

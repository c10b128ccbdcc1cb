/** Uploads encoded objects as block blobs with @azure/storage-blob. */
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { putWithoutReplacing, type ConditionalPut, type EncodedObject } from '../../src/output/encode.js';
import { alternateKey } from '../../integrations/amberflo/objects.js';
import { errInfo, type Destination, type ObjectSink } from '../../src/output/delivery.js';
import type { AzureBlobExporterConfig } from './config.js';

export interface AzureDestination extends Destination {
  container: string;
}

export function serviceClient(c: AzureBlobExporterConfig): BlobServiceClient {
  // spanmeter retries itself; one SDK try per attempt.
  const options: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };
  if (c.connection_string) return BlobServiceClient.fromConnectionString(c.connection_string, options);
  const url = c.account_url || `https://${c.account_name}.blob.core.windows.net`;
  if (c.account_key) return new BlobServiceClient(url, new StorageSharedKeyCredential(c.account_name, c.account_key), options);
  return new BlobServiceClient(url, new DefaultAzureCredential(), options);
}

export class AzureBlobSink implements ObjectSink<AzureDestination> {
  readonly service: BlobServiceClient;
  private readonly containers = new Map<string, ContainerClient>();

  constructor(private readonly c: AzureBlobExporterConfig) {
    this.service = serviceClient(c);
  }

  private container(name: string): ContainerClient {
    let cc = this.containers.get(name);
    if (!cc) this.containers.set(name, (cc = this.service.getContainerClient(name)));
    return cc;
  }

  async start(): Promise<void> {
    if (!this.c.create_container) return;
    const names = new Set([this.c.container, ...Object.values(this.c.routing?.routes ?? {}).map((r) => r.container ?? this.c.container)]);
    for (const n of names) await this.container(n).createIfNotExists();
  }

  /**
   * Uploads the blob without replacing another one ({@link putWithoutReplacing}): the upload is
   * conditional (`If-None-Match: *`), and when the blob exists (409 BlobAlreadyExists) it is read and
   * compared.
   */
  async put(obj: EncodedObject, dest: AzureDestination, signal: AbortSignal): Promise<void> {
    await putWithoutReplacing(obj, (key) => this.tryPut(obj, dest, key, signal), `azureblob exporter (container ${dest.container})`, alternateKey);
  }

  private async tryPut(obj: EncodedObject, dest: AzureDestination, key: string, signal: AbortSignal): Promise<ConditionalPut> {
    const blob = this.container(dest.container).getBlockBlobClient(key);
    try {
      await blob.upload(obj.body, obj.body.length, {
        abortSignal: signal,
        blobHTTPHeaders: { blobContentType: obj.contentType, blobContentEncoding: obj.contentEncoding },
        conditions: { ifNoneMatch: '*' },
      });
      return 'written';
    } catch (e) {
      if (errInfo(e).status !== 409) throw e;
    }
    try {
      return await blob.downloadToBuffer(0, undefined, { abortSignal: signal });
    } catch (e) {
      if (errInfo(e).status === 403) return 'unreadable';
      // 404: deleted since the upload found it; the retry writes it again.
      throw e;
    }
  }
}

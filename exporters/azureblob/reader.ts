/** Reads back the blobs the azureblob exporter wrote (`spanmeter report`, `spanmeter reconcile`). */
import type { ContainerClient } from '@azure/storage-blob';
import type { ObjectReader } from '../../src/report/objects.js';
import { joinKey } from '../../src/output/encode.js';
import type { AzureBlobExporterConfig } from './config.js';
import { serviceClient } from './azureblob.js';

export class AzureBlobReader implements ObjectReader {
  readonly label: string;
  readonly path: string;
  private readonly container: ContainerClient;

  constructor(c: AzureBlobExporterConfig) {
    this.container = serviceClient(c).getContainerClient(c.container);
    this.path = joinKey(c.path);
    this.label = `${this.container.url}/${this.path}`;
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size?: number }> {
    for await (const b of this.container.listBlobsFlat({ prefix })) yield { key: b.name, size: b.properties.contentLength };
  }

  async get(key: string): Promise<Buffer> {
    return this.container.getBlockBlobClient(key).downloadToBuffer();
  }
}

/** Writes encoded objects under a local directory, atomically: temp file + fsync + rename + fsync(dir). */
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../src/output/atomic.js';
import type { Destination, ObjectSink } from '../../src/output/delivery.js';
import type { EncodedObject } from '../../src/output/encode.js';

export interface FileDestination extends Destination {
  directory: string;
}

export class FileSink implements ObjectSink<FileDestination> {
  /**
   * writeFileAtomic fsyncs the file and its directory, so by default no spool sits in front of
   * it (`spool: true` puts one back, for directories on network mounts).
   */
  readonly durableWrites: boolean;

  constructor(o: { durableWrites?: boolean } = {}) {
    this.durableWrites = o.durableWrites ?? true;
  }

  async put(obj: EncodedObject, dest: FileDestination, signal: AbortSignal): Promise<void> {
    await writeFileAtomic(join(resolve(dest.directory), ...obj.key.split('/')), obj.body, signal);
  }
}

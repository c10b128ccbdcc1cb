/** Writes encoded objects under a local directory, atomically: temp file + fsync + link (never over another file) + fsync(dir). */
import { join, resolve } from 'node:path';
import type { CreateSettings } from '../../src/component.js';
import { writeFileAtomic } from '../../src/output/atomic.js';
import { createObjectExporter, type Destination, type ObjectSink } from '../../src/output/delivery.js';
import { putWithoutReplacing, sameRecords, type EncodedObject } from '../../src/output/encode.js';
import { routeOverrides } from '../../src/output/routing.js';
import { alternateKey, amberfloObjects } from '../../integrations/amberflo/objects.js';
import type { FileExporterConfig } from './config.js';

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

  /**
   * Writes the object under its key, never over another object: a key whose file holds other
   * records (see {@link alternateKey}) moves the object to the next derived key; a file with the
   * same records (a re-delivery after a crash, even if compressed by another zlib) is left as it is.
   */
  async put(obj: EncodedObject, dest: FileDestination, signal: AbortSignal): Promise<void> {
    const root = resolve(dest.directory);
    const memo: { json?: Buffer } = {};
    const sameContent = (existing: Buffer): boolean => sameRecords(existing, obj, memo);
    await putWithoutReplacing(
      obj,
      (key) => writeFileAtomic(join(root, ...key.split('/')), obj.body, signal, { replace: false, sameContent }),
      `file exporter (${root})`,
      alternateKey,
    );
  }
}

/** The file exporter of a resolved config: the shared object exporter over a {@link FileSink}. */
export function createFileExporter(c: FileExporterConfig, s: CreateSettings<FileExporterConfig>) {
  return createObjectExporter<FileDestination>(c, s, {
    format: amberfloObjects,
    sink: () => new FileSink({ durableWrites: !c.spool }),
    destination(route) {
      const o = routeOverrides(c.routing, route);
      const directory = o.directory ?? c.directory;
      return { directory, path: o.path ?? c.path, label: `file://${resolve(directory)}` };
    },
  });
}

/** The s3 exporter of a resolved config: the shared object exporter over an S3 sink. */
import type { CreateSettings } from '../../src/component.js';
import { createObjectExporter, lazySink } from '../../src/output/delivery.js';
import { routeOverrides } from '../../src/output/routing.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';
import type { S3ExporterConfig } from './config.js';
import type { S3Destination } from './s3.js';

export function createS3Exporter(c: S3ExporterConfig, s: CreateSettings<S3ExporterConfig>) {
  return createObjectExporter<S3Destination>(c, s, {
    format: amberfloObjects,
    // The AWS SDK is imported only for an active exporter, on start.
    sink: () => lazySink(async () => new (await import('./s3.js')).S3Sink(c)),
    destination(route) {
      const o = routeOverrides(c.routing, route);
      const bucket = o.bucket ?? c.bucket;
      return { bucket, path: o.path ?? c.path, label: `s3://${bucket}` };
    },
  });
}

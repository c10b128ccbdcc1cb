import { defineFactory } from '../../src/component.js';
import { ObjectExporter, lazySink, commonObjectOptions } from '../../src/output/delivery.js';
import { routeOverrides } from '../../src/output/routing.js';
import { dormantExporter, isActive } from '../../src/output/when.js';
import { configSchema, defaultConfig, validate, type S3ExporterConfig } from './config.js';
import type { S3Destination } from './s3.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';

export default defineFactory({
  kind: 'exporter',
  type: 's3',
  description: 'Uploads gzip JSON meter files to S3 or an S3-compatible store (the key layout of Amberflo’s callback).',
  stability: 'beta',
  consumes: 'meter_events',
  configSchema,
  defaultConfig,
  validate: (c: S3ExporterConfig) => validate(c),
  create(s) {
    const c = s.config as S3ExporterConfig;
    if (!isActive(c.when)) return dormantExporter(s.logger, c.when!);
    return new ObjectExporter<S3Destination>({
      ...s,
      format: amberfloObjects,
      // The AWS SDK is imported only for an active exporter.
      sink: lazySink(async () => new (await import('./s3.js')).S3Sink(c)),
      routing: c.routing,
      ...commonObjectOptions(c),
      destination(route) {
        const o = routeOverrides(c.routing, route);
        const bucket = o.bucket ?? c.bucket;
        return { bucket, path: o.path ?? c.path, label: `s3://${bucket}` };
      },
    });
  },
  objectReader: async (c: S3ExporterConfig) => new (await import('./reader.js')).S3Reader(c),
});

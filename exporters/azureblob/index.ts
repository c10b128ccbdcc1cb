import { defineFactory } from '../../src/component.js';
import { ObjectExporter, lazySink, commonObjectOptions } from '../../src/output/delivery.js';
import { routeOverrides } from '../../src/output/routing.js';
import { dormantExporter, isActive } from '../../src/output/when.js';
import type { AzureDestination } from './azureblob.js';
import { configSchema, defaultConfig, validate, type AzureBlobExporterConfig } from './config.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';

export default defineFactory({
  kind: 'exporter',
  type: 'azureblob',
  description: 'Uploads gzip JSON meter files to Azure Blob Storage (the key layout of Amberflo’s callback).',
  stability: 'beta',
  consumes: 'meter_events',
  configSchema,
  defaultConfig,
  validate: (c: AzureBlobExporterConfig) => validate(c),
  create(s) {
    const c = s.config as AzureBlobExporterConfig;
    if (!isActive(c.when)) return dormantExporter(s.logger, c.when!);
    return new ObjectExporter<AzureDestination>({
      ...s,
      format: amberfloObjects,
      // The Azure SDK is imported only for an active exporter.
      sink: lazySink(async () => new (await import('./azureblob.js')).AzureBlobSink(c)),
      routing: c.routing,
      ...commonObjectOptions(c),
      destination(route) {
        const o = routeOverrides(c.routing, route);
        const container = o.container ?? c.container;
        return { container, path: o.path ?? c.path, label: `azblob://${container}` };
      },
    });
  },
  objectReader: async (c: AzureBlobExporterConfig) => new (await import('./reader.js')).AzureBlobReader(c),
});

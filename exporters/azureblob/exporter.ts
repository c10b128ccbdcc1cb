/** The azureblob exporter of a resolved config: the shared object exporter over an Azure Blob sink. */
import type { CreateSettings } from '../../src/component.js';
import { createObjectExporter, lazySink } from '../../src/output/delivery.js';
import { routeOverrides } from '../../src/output/routing.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';
import type { AzureDestination } from './azureblob.js';
import type { AzureBlobExporterConfig } from './config.js';

export function createAzureBlobExporter(c: AzureBlobExporterConfig, s: CreateSettings<AzureBlobExporterConfig>) {
  return createObjectExporter<AzureDestination>(c, s, {
    format: amberfloObjects,
    // The Azure SDK is imported only for an active exporter, on start.
    sink: () => lazySink(async () => new (await import('./azureblob.js')).AzureBlobSink(c)),
    destination(route) {
      const o = routeOverrides(c.routing, route);
      const container = o.container ?? c.container;
      return { container, path: o.path ?? c.path, label: `azblob://${container}` };
    },
  });
}

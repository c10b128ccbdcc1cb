import { resolve } from 'node:path';
import { defineFactory } from '../../src/component.js';
import { ObjectExporter, commonObjectSchemaProps, commonObjectOptions, type ObjectExporterCommonConfig } from '../../src/output/delivery.js';
import { defaultRetryConfig, retryConfigSchema, type RetryConfig } from '../../src/output/retry.js';
import { routeOverrides, routingPathProblems, routingSchema, type RoutingConfig } from '../../src/output/routing.js';
import { dormantExporter, isActive, whenProblems, whenSchema, type WhenConfig } from '../../src/output/when.js';
import { FileSink, type FileDestination } from './file.js';
import { DirectoryReader } from '../../src/report/objects.js';
import { joinKey } from '../../src/output/encode.js';
import { amberfloObjects } from '../../integrations/amberflo/objects.js';

interface RouteOverride {
  directory?: string;
  path?: string;
}

export interface FileExporterConfig extends ObjectExporterCommonConfig {
  directory: string;
  routing?: RoutingConfig<RouteOverride>;
  retry_on_failure: RetryConfig;
  when?: WhenConfig;
  /** With the write-ahead log on: write to the local spool first (for directories on network mounts). */
  spool?: boolean;
}

export default defineFactory({
  kind: 'exporter',
  type: 'file',
  description: 'Writes gzip JSON meter files to a local directory in the key layout of Amberflo’s callback (atomic writes).',
  stability: 'beta',
  consumes: 'meter_events',
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      directory: { type: 'string', minLength: 1, description: 'Root directory of the files (default "./data/out").' },
      ...commonObjectSchemaProps,
      routing: routingSchema(
        {
          directory: { type: 'string', minLength: 1, description: 'Root directory for this route.' },
          path: { type: 'string', description: 'Key prefix for this route.' },
        },
        'directory or path',
      ),
      retry_on_failure: retryConfigSchema,
      when: whenSchema,
      spool: {
        type: 'boolean',
        description:
          'With the write-ahead log on: write each file to the local spool first and copy it to the directory in the background (default false: files are written durably in place, a spool would only add a second copy on the same disk). Use it when the directory is a network mount (NFS, SMB) that can be unavailable for a while.',
      },
    },
  },
  defaultConfig: (): FileExporterConfig => ({
    directory: './data/out',
    path: 'litellm-metering',
    timeout: '30s',
    max_records_per_object: 10_000,
    retry_on_failure: defaultRetryConfig(),
  }),
  validate: (c: FileExporterConfig) => [...whenProblems(c.when), ...routingPathProblems(c)],
  create(s) {
    const c = s.config as FileExporterConfig;
    if (!isActive(c.when)) return dormantExporter(s.logger, c.when!);
    return new ObjectExporter<FileDestination>({
      ...s,
      format: amberfloObjects,
      sink: new FileSink({ durableWrites: !c.spool }),
      routing: c.routing,
      ...commonObjectOptions(c),
      destination(route) {
        const o = routeOverrides(c.routing, route);
        const directory = o.directory ?? c.directory;
        return { directory, path: o.path ?? c.path, label: `file://${resolve(directory)}` };
      },
    });
  },
  objectReader: (c: FileExporterConfig) => new DirectoryReader(c.directory, joinKey(c.path)),
});

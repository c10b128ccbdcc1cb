import type { ConfigProblem } from '../../src/component.js';
import { OBJECT_PATH } from '../../integrations/amberflo/objects.js';
import { Settings, Type, type Static } from '../../src/config/declare.js';
import { objectExporterKeys } from '../../src/output/delivery.js';
import { routingPathProblems } from '../../src/output/routing.js';
import { whenProblems } from '../../src/output/when.js';

/** The file exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    directory: Type.String({ minLength: 1, default: './data/out', description: 'Root directory of the files.' }),
    ...objectExporterKeys(
      OBJECT_PATH,
      { directory: Type.Optional(Type.String({ minLength: 1, description: 'Root directory for this route.' })) },
      'directory or path',
    ),
    spool: Type.Boolean({
      default: false,
      description:
        'With the write-ahead log on: write each file to the local spool first and copy it to the directory in the background. Otherwise files are written durably in place (a spool would only add a second copy on the same disk). Use it when the directory is a network mount (NFS, SMB) that can be unavailable for a while.',
    }),
  },
  { description: 'file exporter settings.' },
);

export type FileExporterConfig = Static<typeof configSchema>;

/** Checks a schema cannot express: the `when` selector and relative key prefixes. */
export function validate(c: FileExporterConfig): ConfigProblem[] {
  return [...whenProblems(c.when), ...routingPathProblems(c)];
}

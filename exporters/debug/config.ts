import { Settings, Type, type Static } from '../../src/config/declare.js';

/** The debug exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    verbosity: Type.Enum(['count', 'records'], {
      default: 'count',
      description: 'Print only a count per batch ("count") or every record as one JSON line ("records").',
    }),
  },
  { description: 'Debug exporter settings.' },
);

export type DebugExporterConfig = Static<typeof configSchema>;

/** Config of the `litellm_logs` receiver, declared once: schema, defaults, docs and type. */
import type { ConfigProblem } from '../../src/component.js';
import { Nullable, Settings, Type, type Static } from '../../src/config/declare.js';
import { BearerToken, HttpServerSettings } from '../../src/server/config.js';

export const configSchema = Settings(
  {
    paths: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Files or directories read once at start (directories: *.json, *.ndjson, *.jsonl, optionally .gz, recursively).',
    }),
    batch_size: Type.Integer({ minimum: 1, maximum: 100000, default: 500, description: 'LLM calls handed downstream per call.' }),
    http: Nullable(
      Settings(
        {
          ...HttpServerSettings({ max_request_body_size: '32MiB' }),
          path: Type.String({ pattern: '^/', default: '/', description: 'URL path that accepts POSTs.' }),
          bearer_token: BearerToken({
            minLength: 1,
            description: 'When set, requests must send "Authorization: Bearer <token>" (compared in constant time).',
          }),
        },
        { description: 'HTTP endpoint settings.' },
      ),
      { description: "HTTP endpoint for LiteLLM's generic_api logger (endpoint required); null or absent disables it." },
    ),
  },
  { description: 'Reads LiteLLM StandardLoggingPayload JSON from files and/or an HTTP endpoint.' },
);

export type LitellmLogsConfig = Static<typeof configSchema>;
export type LitellmLogsHttpConfig = NonNullable<LitellmLogsConfig['http']>;

/** Checks a schema cannot express. */
export function validate(c: LitellmLogsConfig): ConfigProblem[] {
  return c.paths.length === 0 && !c.http ? [{ path: '', message: 'nothing to read: set paths and/or http' }] : [];
}

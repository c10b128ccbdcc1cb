import type { ConfigProblem } from '../../src/component.js';
import { OBJECT_PATH } from '../../integrations/amberflo/objects.js';
import { Settings, Type, type Static } from '../../src/config/declare.js';
import { objectExporterKeys } from '../../src/output/delivery.js';
import { routingPathProblems } from '../../src/output/routing.js';
import { isActive, whenProblems } from '../../src/output/when.js';

/** The azureblob exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    container: Type.String({ default: '', description: 'Container name (AFLO_CONTAINER_NAME). Required.' }),
    connection_string: Type.String({
      default: '',
      description: 'Storage connection string (AZURE_STORAGE_CONNECTION_STRING). Takes precedence over the other credentials.',
    }),
    account_name: Type.String({
      default: '',
      description:
        'Storage account name (AZURE_STORAGE_ACCOUNT_NAME); with account_key, or alone for DefaultAzureCredential (managed identity, workload identity, az login, env service principal).',
    }),
    account_key: Type.String({ default: '', description: 'Storage account key (AZURE_STORAGE_ACCOUNT_KEY). Empty = DefaultAzureCredential.' }),
    account_url: Type.String({
      default: '',
      description: 'Blob service URL; empty = https://<account_name>.blob.core.windows.net (set it for Azurite, sovereign clouds or private endpoints).',
    }),
    create_container: Type.Boolean({
      default: false,
      description: 'Create the container at start if it does not exist (needs write permission on the account; start then contacts the store).',
    }),
    ...objectExporterKeys(
      OBJECT_PATH,
      { container: Type.Optional(Type.String({ minLength: 1, description: 'Container for this route.' })) },
      'container or prefix',
    ),
  },
  { description: 'azureblob exporter settings.' },
);

export type AzureBlobExporterConfig = Static<typeof configSchema>;

/** Checks a schema cannot express: the `when` selector, and (when active) a container and a credential. */
export function validate(c: AzureBlobExporterConfig): ConfigProblem[] {
  const out = whenProblems(c.when);
  if (!isActive(c.when)) return out;
  out.push(...routingPathProblems(c));
  if (!c.container) out.push({ path: 'container', message: 'is required (set AFLO_CONTAINER_NAME or container:)' });
  if (!c.connection_string && !c.account_name && !c.account_url) {
    out.push({
      path: 'connection_string',
      message: 'set connection_string (AZURE_STORAGE_CONNECTION_STRING), or account_name (+ account_key, or nothing for managed identity)',
    });
  }
  if (c.account_key && !c.account_name && !c.connection_string) out.push({ path: 'account_key', message: 'needs account_name' });
  if (c.account_url && !/^https?:\/\//.test(c.account_url)) out.push({ path: 'account_url', message: 'must be an http(s):// URL' });
  return out;
}

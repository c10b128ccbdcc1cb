import { commonObjectSchemaProps, type ObjectExporterCommonConfig } from '../../src/output/delivery.js';
import { defaultRetryConfig, retryConfigSchema, type RetryConfig } from '../../src/output/retry.js';
import { routingSchema, type RoutingConfig, routingPathProblems } from '../../src/output/routing.js';
import { isActive, whenProblems, whenSchema, type WhenConfig } from '../../src/output/when.js';

export interface AzureRouteOverride {
  container?: string;
  path?: string;
}

export interface AzureBlobExporterConfig extends ObjectExporterCommonConfig {
  container: string;
  connection_string: string;
  account_name: string;
  account_key: string;
  account_url: string;
  create_container: boolean;
  routing?: RoutingConfig<AzureRouteOverride>;
  retry_on_failure: RetryConfig;
  when?: WhenConfig;
}

export const defaultConfig = (): AzureBlobExporterConfig => ({
  container: '',
  connection_string: '',
  account_name: '',
  account_key: '',
  account_url: '',
  create_container: false,
  path: 'litellm-metering',
  timeout: '30s',
  max_records_per_object: 10_000,
  retry_on_failure: defaultRetryConfig(),
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    container: { type: 'string', description: 'Container name (AFLO_CONTAINER_NAME). Required.' },
    connection_string: { type: 'string', description: 'Storage connection string (AZURE_STORAGE_CONNECTION_STRING). Takes precedence over the other credentials.' },
    account_name: { type: 'string', description: 'Storage account name (AZURE_STORAGE_ACCOUNT_NAME); with account_key, or alone for DefaultAzureCredential (managed identity, workload identity, az login, env service principal).' },
    account_key: { type: 'string', description: 'Storage account key (AZURE_STORAGE_ACCOUNT_KEY). Empty = DefaultAzureCredential.' },
    account_url: { type: 'string', description: 'Blob service URL; default https://<account_name>.blob.core.windows.net (set it for Azurite, sovereign clouds or private endpoints).' },
    create_container: { type: 'boolean', description: 'Create the container at start if it does not exist (default false; needs write permission on the account).' },
    ...commonObjectSchemaProps,
    routing: routingSchema(
      {
        container: { type: 'string', minLength: 1, description: 'Container for this route.' },
        path: { type: 'string', description: 'Blob name prefix for this route.' },
      },
      'container or prefix',
    ),
    retry_on_failure: retryConfigSchema,
    when: whenSchema,
  },
} as const;

export function validate(c: AzureBlobExporterConfig): { path: string; message: string }[] {
  const out = whenProblems(c.when);
  if (!isActive(c.when)) return out;
  out.push(...routingPathProblems(c));
  if (!c.container) out.push({ path: 'container', message: 'is required (set AFLO_CONTAINER_NAME or container:)' });
  if (!c.connection_string && !c.account_name && !c.account_url) {
    out.push({ path: 'connection_string', message: 'set connection_string (AZURE_STORAGE_CONNECTION_STRING), or account_name (+ account_key, or nothing for managed identity)' });
  }
  if (c.account_key && !c.account_name && !c.connection_string) out.push({ path: 'account_key', message: 'needs account_name' });
  if (c.account_url && !/^https?:\/\//.test(c.account_url)) out.push({ path: 'account_url', message: 'must be an http(s):// URL' });
  return out;
}

/**
 * LiteLLM's spend log as the reference of `spanmeter reconcile`: from its database (the enrich
 * processor's `litellm_db` settings) or its admin API (`litellm_api`), or as the options say.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ResolvedConfig } from '../../../src/config/config.js';
import type { ReferenceLog } from '../../../src/report/reconcile.js';
import { SpendLogApi } from './api.js';
import { SpendLogDb } from './db.js';

export { SpendLogApi, SpendLogDb };

interface EnrichSettings {
  source?: string;
  litellm_api?: { base_url?: string; api_key_env?: string };
  litellm_db?: { url_env?: string };
}

export interface SpendLogOptions {
  source?: 'db' | 'api';
  databaseUrlEnv?: string;
  apiBase?: string;
  apiKeyEnv?: string;
}

export function spendLogOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '-s, --source <db|api>',
        "read LiteLLM's spend log from its database or its admin API (default: the enrich processor's source in the configuration)",
      ).choices(['db', 'api']),
    )
    .option(
      '--database-url-env <VAR>',
      "environment variable with LiteLLM's PostgreSQL URL (default: the enrich processor's litellm_db.url_env, else LITELLM_DATABASE_URL)",
    )
    .option('--api-base <url>', "LiteLLM proxy URL (default: the enrich processor's litellm_api.base_url)")
    .option(
      '--api-key-env <VAR>',
      "environment variable with an admin key for the proxy (default: the enrich processor's litellm_api.api_key_env, else LITELLM_MASTER_KEY)",
    );
}

/** The first enrich processor's settings, if the configuration has one. */
function enrichSettings(config: ResolvedConfig | undefined): EnrichSettings | undefined {
  if (!config) return undefined;
  for (const c of config.components.values()) if (c.kind === 'processor' && c.type === 'enrich') return c.config as EnrichSettings;
  return undefined;
}

export function openSpendLog(opts: Record<string, unknown>, config: ResolvedConfig | undefined, env: NodeJS.ProcessEnv): ReferenceLog {
  const o = opts as SpendLogOptions;
  const enrich = enrichSettings(config);
  const source = o.source ?? (enrich?.source === 'litellm_db' ? 'db' : enrich?.source === 'litellm_api' ? 'api' : undefined);
  if (!source) throw new Error("say where LiteLLM's spend log is: --source db (its PostgreSQL) or --source api (its admin API)");
  if (source === 'db') {
    const urlEnv = o.databaseUrlEnv ?? enrich?.litellm_db?.url_env ?? 'LITELLM_DATABASE_URL';
    const url = env[urlEnv];
    if (!url) throw new Error(`environment variable ${urlEnv} (LiteLLM's database URL) is not set`);
    return new SpendLogDb({ url });
  }
  const base = o.apiBase ?? enrich?.litellm_api?.base_url;
  if (!base) throw new Error("--api-base is needed (the LiteLLM proxy's URL), or an enrich processor with litellm_api.base_url in the configuration");
  if (!/^https?:\/\//.test(base)) throw new Error(`--api-base: "${base}" is not an http(s):// URL`);
  const keyEnv = o.apiKeyEnv ?? enrich?.litellm_api?.api_key_env ?? 'LITELLM_MASTER_KEY';
  const apiKey = env[keyEnv];
  if (!apiKey) throw new Error(`environment variable ${keyEnv} (an admin key for the LiteLLM proxy) is not set`);
  return new SpendLogApi({ baseUrl: base, apiKey });
}

/**
 * How looked-up facts are written into an LlmCall. Precedence, field by field: the value the
 * record already has (from the span or SLO) wins, then the lookup, else the field stays null (the
 * amberflo processor then uses its default, e.g. `unknown`). The one exception is the model map
 * (modelMapKey, modelMapProvider) of span records, see `ModelMapOptions`: spans never carry it, so
 * what the span path put there is only a guess.
 *
 * | LlmCall field     | 1st: record      | 2nd: lookup                                  |
 * |-------------------|------------------|----------------------------------------------|
 * | keyAlias          | span/SLO         | key.key_alias                                |
 * | keyMetadata       | span/SLO         | key.metadata                                 |
 * | teamId            | span/SLO         | key.team_id                                  |
 * | userId            | span/SLO         | key.user_id                                  |
 * | orgId             | span/SLO         | key.organization_id, then team.organization_id |
 * | teamAlias         | span/SLO         | team.team_alias (team of the resolved teamId)|
 * | teamMetadata      | span/SLO (never) | team.metadata (filtered by team.metadata_keys)|
 * | provider          | span/SLO         | model custom_llm_provider / `provider/` prefix |
 * | modelGroup        | span/SLO         | model model_name                             |
 * | modelMapKey       | see model_map    | model_info.key / model_info.base_model       |
 * | modelMapProvider  | see model_map    | model_info.litellm_provider                  |
 * | apiBase           | span/SLO         | litellm_params.api_base                      |
 * | region            | span/SLO         | litellm_params.aws_region_name, then vertex_location |
 * | n                 | span/SLO         | — (no source knows it; stays null)           |
 */
import type { LlmCall } from '../../src/data/llm-call.js';
import type { KeyFacts, ModelFacts, TeamFacts } from '../../integrations/litellm/catalogue/facts.js';
import type { ModelMapMode } from './config.js';

export interface ModelMapOptions {
  mode: ModelMapMode;
  onErrors: boolean;
}

export const DEFAULT_MODEL_MAP: ModelMapOptions = { mode: 'base_model', onErrors: false };

export interface Found {
  key?: KeyFacts | null;
  team?: TeamFacts | null;
  model?: ModelFacts | null;
}

/** Returns `call` itself when nothing changes, else a new object (the input is never mutated). */
export function applyFacts(call: LlmCall, f: Found, mm: ModelMapOptions = DEFAULT_MODEL_MAP): LlmCall {
  const k = f.key ?? null;
  const m = f.model ?? null;
  const teamId = call.teamId ?? k?.teamId ?? null;
  const t = f.team && f.team.teamId === teamId ? f.team : null;
  const [modelMapKey, modelMapProvider] = modelMap(call, m, mm);
  const next: LlmCall = {
    ...call,
    keyAlias: call.keyAlias ?? k?.keyAlias ?? null,
    keyMetadata: call.keyMetadata ?? k?.metadata ?? null,
    teamId,
    userId: call.userId ?? k?.userId ?? null,
    orgId: call.orgId ?? k?.orgId ?? t?.orgId ?? null,
    teamAlias: call.teamAlias ?? t?.teamAlias ?? null,
    teamMetadata: call.teamMetadata ?? t?.metadata ?? null,
    provider: call.provider ?? m?.provider ?? null,
    modelGroup: call.modelGroup ?? m?.modelGroup ?? null,
    modelMapKey,
    modelMapProvider,
    apiBase: call.apiBase ?? m?.apiBase ?? null,
    region: call.region ?? m?.region ?? null,
  };
  for (const field of FIELDS) if (next[field] !== call[field]) return next;
  return call;
}

/** [modelMapKey, modelMapProvider] per `model.model_map` (see config.ts). */
function modelMap(call: LlmCall, m: ModelFacts | null, mm: ModelMapOptions): [string | null, string | null] {
  const key = call.modelMapKey;
  const provider = call.modelMapProvider;
  if (!m || (call.error && !mm.onErrors)) return [key, provider];
  const catalogueKey = m.modelMapKey ?? m.baseModel;
  if (call.source !== 'span' || mm.mode === 'span') return [key ?? catalogueKey, provider ?? m.modelMapProvider];
  if (mm.mode === 'catalogue') return [catalogueKey ?? key, m.modelMapProvider ?? provider];
  // base_model: LiteLLM prices with a configured base_model, else with the model that answered
  // (which the span path's guess, gen_ai.response.model, is); the deployment's own key last.
  return [m.baseModel ?? key ?? m.modelMapKey, m.modelMapProvider ?? provider];
}

const FIELDS = [
  'keyAlias',
  'keyMetadata',
  'teamId',
  'userId',
  'orgId',
  'teamAlias',
  'teamMetadata',
  'provider',
  'modelGroup',
  'modelMapKey',
  'modelMapProvider',
  'apiBase',
  'region',
] as const satisfies readonly (keyof LlmCall)[];

/**
 * The facts a lookup returns, and their normalisation from LiteLLM's own shapes. Every source
 * (admin API, database rows, catalogue file) produces LiteLLM-shaped objects and goes through
 * these functions, so that the three sources agree field for field.
 *
 * Shapes (see README "What LiteLLM returns"):
 * - team: `LiteLLM_TeamTable` row / `/v2/team/list` item / `/team/info` `team_info`:
 *   `{team_id, team_alias, organization_id, metadata}`;
 * - key: `LiteLLM_VerificationToken` row / `/key/list?return_full_object=true` item / `/key/info`
 *   `info` (+ the hash): `{token, key_alias, team_id, user_id, organization_id, metadata}`;
 * - model: `/model/info` `data[]` item / `LiteLLM_ProxyModelTable` row:
 *   `{model_name, litellm_params: {model, custom_llm_provider, api_base, aws_region_name,
 *   vertex_location}, model_info: {id, key, base_model, litellm_provider}}`.
 */

export type Kind = 'team' | 'key' | 'model';
export const KINDS: readonly Kind[] = ['team', 'key', 'model'];

export interface TeamFacts {
  teamId: string;
  teamAlias: string | null;
  orgId: string | null;
  metadata: Record<string, unknown> | null;
}

export interface KeyFacts {
  keyHash: string;
  keyAlias: string | null;
  teamId: string | null;
  userId: string | null;
  orgId: string | null;
  metadata: Record<string, unknown> | null;
}

export interface ModelFacts {
  modelId: string;
  /** Model group name (`model_name`). */
  modelGroup: string | null;
  /** `custom_llm_provider`, else the `provider/` prefix of `litellm_params.model`. */
  provider: string | null;
  /** `model_info.key`: the model-map (pricing) key LiteLLM resolved for the deployment. */
  modelMapKey: string | null;
  /** `model_info.base_model`: the pricing model configured for the deployment (LiteLLM's cost calculation prefers it). */
  baseModel: string | null;
  /** `model_info.litellm_provider`. */
  modelMapProvider: string | null;
  apiBase: string | null;
  /** `aws_region_name` (Bedrock / SageMaker), else `vertex_location` (Vertex AI). */
  region: string | null;
}

export interface FactsOf {
  team: TeamFacts;
  key: KeyFacts;
  model: ModelFacts;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A non-empty string, else null. LiteLLM writes "" and None for "not set". */
export function str(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** JSON columns may arrive as objects (pg jsonb, API) or as JSON strings (older rows, CSV). */
export function dict(v: unknown): Record<string, unknown> | null {
  if (isObj(v)) return v;
  if (typeof v === 'string' && v.trim().startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(v);
      return isObj(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * LiteLLM stores `litellm_params` values in its database encrypted with its salt key
 * (base64 of nonce + ciphertext, 40+ characters without `/`, `.` or `:`). Such values cannot be
 * used without the key; they are recognised and dropped instead of being taken for facts.
 */
function plain(v: unknown, kind: 'url' | 'token'): string | null {
  const s = str(v);
  if (s === null) return null;
  if (kind === 'url') {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:' ? s : null;
    } catch {
      return null;
    }
  }
  return /^[A-Za-z0-9_.:/@-]{1,120}$/.test(s) && !(s.length >= 40 && /^[A-Za-z0-9_=-]+$/.test(s)) ? s : null;
}

export function teamFacts(raw: unknown, metadataKeys: readonly string[] = []): TeamFacts | null {
  if (!isObj(raw)) return null;
  const teamId = str(raw.team_id);
  if (!teamId) return null;
  let metadata = dict(raw.metadata);
  if (metadata && metadataKeys.length) {
    metadata = Object.fromEntries(metadataKeys.filter((k) => k in metadata!).map((k) => [k, metadata![k]]));
  }
  return { teamId, teamAlias: str(raw.team_alias), orgId: str(raw.organization_id), metadata };
}

/** `hash` is used when the object does not carry its token (`/key/info` pops it). */
export function keyFacts(raw: unknown, hash?: string): KeyFacts | null {
  if (!isObj(raw)) return null;
  const keyHash = str(raw.token) ?? str(raw.key_hash) ?? hash ?? null;
  if (!keyHash) return null;
  return {
    keyHash,
    keyAlias: str(raw.key_alias),
    teamId: str(raw.team_id),
    userId: str(raw.user_id),
    orgId: str(raw.organization_id),
    metadata: dict(raw.metadata),
  };
}

export function modelFacts(raw: unknown, id?: string): ModelFacts | null {
  if (!isObj(raw)) return null;
  const params = dict(raw.litellm_params) ?? {};
  const info = dict(raw.model_info) ?? {};
  const modelId = str(info.id) ?? str(raw.model_id) ?? id ?? null;
  if (!modelId) return null;
  const model = plain(params.model, 'token');
  const prefix = model && model.includes('/') ? model.slice(0, model.indexOf('/')) : null;
  return {
    modelId,
    modelGroup: str(raw.model_name),
    provider: plain(params.custom_llm_provider, 'token') ?? prefix,
    modelMapKey: str(info.key),
    baseModel: str(info.base_model),
    modelMapProvider: str(info.litellm_provider),
    apiBase: plain(params.api_base, 'url'),
    region: plain(params.aws_region_name, 'token') ?? plain(params.vertex_location, 'token'),
  };
}

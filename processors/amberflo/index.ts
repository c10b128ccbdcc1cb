/**
 * `amberflo` processor: `llm_calls` → `meter_events` (docs/mapping.md). The mapping itself is in
 * integrations/amberflo/mapping.ts; this file is the component around it.
 */
import { meteredUsage, type MeteredUsage } from '../../src/telemetry/usage.js';
import type { Consumer, ConsumeContext, CreateSettings, Processor } from '../../src/component.js';
import { defineFactory } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { MappingCache, toMeterRecords, type MappingOptions, type Mode } from '../../integrations/amberflo/mapping.js';

export interface AmberfloConfig {
  mode: Mode;
  hosted_env: string | number;
  /** Booleans, or the callback's accepted strings (true/1/yes/on, false/0/no/off). */
  send_object_metadata: boolean | string | number;
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off', ''];

export function parseBool(v: boolean | string | number): boolean {
  if (typeof v === 'boolean') return v;
  const w = String(v).trim().toLowerCase();
  if (TRUE_WORDS.includes(w)) return true;
  if (FALSE_WORDS.includes(w)) return false;
  throw new Error(`not a boolean: ${JSON.stringify(v)}`);
}

const configSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Maps LLM calls to Amberflo meter records.',
  properties: {
    mode: {
      enum: ['compat', 'clean'],
      description:
        'compat: exactly what Amberflo\'s LiteLLM callback emits (nulls and "/" included). clean (default): compat plus valid dimension values and input tokens split by cache state.',
    },
    hosted_env: {
      anyOf: [{ type: 'string', minLength: 1 }, { type: 'number' }],
      description: 'Value of the hosted_env dimension (callback: AFLO_HOSTED_ENV). Default "prod". A number (e.g. from ${env:...}) is used as its text.',
    },
    send_object_metadata: {
      anyOf: [
        { type: 'boolean' },
        { type: 'integer', enum: [0, 1] },
        { type: 'string', pattern: '^(true|false|1|0|yes|no|on|off|TRUE|FALSE|True|False|YES|NO|Yes|No|ON|OFF|On|Off)$' },
      ],
      description: 'Also emit aflo.object_metadata records (business units, team tags) (callback: AFLO_SEND_OBJECT_METADATA). Default false.',
    },
  },
};

export class AmberfloProcessor implements Processor<LlmCall[]> {
  readonly options: MappingOptions;
  private readonly cache = new MappingCache();
  private readonly usage: MeteredUsage;

  constructor(
    settings: CreateSettings<AmberfloConfig>,
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    const c = settings.config;
    this.options = { mode: c.mode, hostedEnv: String(c.hosted_env), sendObjectMetadata: parseBool(c.send_object_metadata) };
    this.usage = meteredUsage(settings.registry);
  }

  async consume(calls: LlmCall[], ctx?: ConsumeContext): Promise<void> {
    const out: MeterRecord[] = [];
    for (const call of calls) for (const r of toMeterRecords(call, this.options, this.cache)) out.push(r);
    if (out.length) await this.next.consume(out, ctx);
    // Counted once handed on: a batch refused downstream comes again and is counted then.
    for (const call of calls) this.usage.add(call.teamId, call.model, call.error !== null, call.usage.promptTokens, call.usage.completionTokens);
  }
}

export default defineFactory({
  kind: 'processor',
  type: 'amberflo',
  description: "LLM calls → Amberflo meter records (llm_api_call, llm_api_call_ms, llm_text_tokens, ...), parity with Amberflo's LiteLLM callback.",
  stability: 'beta',
  consumes: 'llm_calls',
  produces: 'meter_events',
  configSchema,
  defaultConfig: (): AmberfloConfig => ({ mode: 'clean', hosted_env: 'prod', send_object_metadata: false }),
  create: (settings: CreateSettings<AmberfloConfig>, next: Consumer<MeterRecord[]>) => new AmberfloProcessor(settings, next),
});

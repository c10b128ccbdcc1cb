/**
 * `amberflo` processor: `llm_calls` → `meter_events` (docs/mapping.md). The mapping itself is in
 * integrations/amberflo/mapping.ts; this file is the component around it.
 */
import type { Consumer, ConsumeContext, Processor } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { meteredUsage, type MeteredUsage } from '../../src/telemetry/usage.js';
import type { Registry } from 'prom-client';
import { MappingCache, toMeterRecords, type MappingOptions } from '../../integrations/amberflo/mapping.js';
import { mappingOptions, type AmberfloConfig } from './config.js';

export class AmberfloProcessor implements Processor<LlmCall[]> {
  readonly options: MappingOptions;
  private readonly cache = new MappingCache();
  private readonly usage: MeteredUsage;

  constructor(
    config: AmberfloConfig,
    s: { registry: Registry },
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    this.options = mappingOptions(config);
    // The service's usage totals (status page); the declared counters show them.
    this.usage = meteredUsage(s.registry);
  }

  async consume(calls: LlmCall[], ctx?: ConsumeContext): Promise<void> {
    const out: MeterRecord[] = [];
    for (const call of calls) for (const r of toMeterRecords(call, this.options, this.cache)) out.push(r);
    if (out.length) await this.next.consume(out, ctx);
    // Counted once handed on: a batch refused downstream comes again and is counted then.
    for (const call of calls) this.usage.add(call.teamId, call.model, call.error !== null, call.usage.promptTokens, call.usage.completionTokens);
  }
}

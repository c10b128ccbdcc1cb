/**
 * `filter` processor (`meter_events` → same): drops records by condition (see condition.ts).
 * A record is dropped when it matches ANY `drop` condition, or (when `keep` is set) when it does
 * not match ALL `keep` conditions. Dropped records are counted (reason "filtered").
 */
import type { Consumer, ConsumeContext, Processor } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import type { ComponentMetrics } from '../../src/telemetry/metrics.js';
import { parseCondition, type Predicate } from './condition.js';
import type { FilterConfig } from './config.js';

export class FilterProcessor implements Processor<MeterRecord[]> {
  private readonly drop: Predicate[];
  private readonly keep: Predicate[];

  constructor(
    config: FilterConfig,
    private readonly s: { metrics: ComponentMetrics },
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    this.drop = config.drop.map(parseCondition);
    this.keep = config.keep.map(parseCondition);
  }

  passes(r: MeterRecord): boolean {
    for (const p of this.drop) if (p(r)) return false;
    for (const p of this.keep) if (!p(r)) return false;
    return true;
  }

  async consume(records: MeterRecord[], ctx?: ConsumeContext): Promise<void> {
    const out = records.filter((r) => this.passes(r));
    if (out.length !== records.length) this.s.metrics.dropped(records.length - out.length, 'filtered');
    if (out.length) await this.next.consume(out, ctx);
  }
}

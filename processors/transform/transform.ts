/**
 * `transform` processor (`meter_events` → same): set, rename or delete dimensions, in order.
 * See ops.ts and README.md.
 */
import type { Consumer, ConsumeContext, Processor } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import type { Operation, TransformConfig } from './config.js';
import { apply } from './ops.js';

export class TransformProcessor implements Processor<MeterRecord[]> {
  private readonly ops: readonly Operation[];

  constructor(
    config: TransformConfig,
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    this.ops = config.operations;
  }

  async consume(records: MeterRecord[], ctx?: ConsumeContext): Promise<void> {
    if (!this.ops.length) return this.next.consume(records, ctx);
    await this.next.consume(
      records.map((r) => apply(this.ops, r)),
      ctx,
    );
  }
}

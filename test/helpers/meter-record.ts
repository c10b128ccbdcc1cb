import type { MeterRecord } from '../../src/data/meter-record.js';

/** A meter record at 2026-01-02T03:04:05Z + `i` ms with value `i`; `extra` overrides fields. */
export const meterRecord = (i: number, extra: Partial<MeterRecord> = {}): MeterRecord => ({
  meterApiName: 'llm-total-tokens',
  meterTimeInMillis: Date.UTC(2026, 0, 2, 3, 4, 5) + i,
  meterValue: i,
  customerId: 'c1',
  uniqueId: `u${i}`,
  ...extra,
});

/**
 * `meter_events`: one meter record, exactly as it is written to files or posted to the ingest API
 * (docs/mapping.md, "Meter records"). Key order on output is fixed by the record mapping so that
 * serialisation is deterministic.
 */
export interface MeterRecord {
  meterApiName: string;
  /** Epoch milliseconds. */
  meterTimeInMillis: number;
  meterValue: number;
  customerId?: string;
  uniqueId?: string;
  /**
   * Dimension values are strings; `null` appears only in `mode: compat` (parity with the callback).
   * The record mapping hands out frozen dimension objects shared by the records of a call (and
   * of calls with the same dimensions): never change one in place, replace it with a changed copy.
   */
  dimensions?: Readonly<Record<string, string | null>>;
}

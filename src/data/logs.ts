/**
 * The `logs` data type: one OTLP `ExportLogsServiceRequest`, kept opaque as its protobuf bytes
 * (forwarded untouched, never decoded into records), with the number of log records it holds.
 */
export interface LogsBatch {
  /** The request in OTLP protobuf (JSON requests are converted once by the receiver). */
  readonly protobuf: Uint8Array;
  /** Log records in the request. */
  readonly logRecords: number;
}

/** True for a {@link LogsBatch}. */
export function isLogsBatch(data: unknown): data is LogsBatch {
  return typeof data === 'object' && data !== null && 'logRecords' in data && (data as LogsBatch).protobuf instanceof Uint8Array;
}

/**
 * OTLP logs (`POST /v1/logs`, gRPC `LogsService/Export`): LiteLLM exports its GenAI events there
 * when `LITELLM_OTEL_INTEGRATION_ENABLE_EVENTS=true`. They carry no usage, so nothing is billed
 * from them; a receiver that answered 404 would make LiteLLM's log exporter report errors on every
 * batch. Each request is checked (a malformed one is refused with 400 as a trace request would
 * be) and answered with success, its records counted and reported as not kept
 * (`partial_success.rejected_log_records`, with the reason).
 */
import protobuf from 'protobufjs';
import { OtlpDecodeError } from '../../src/otlp/index.js';

export const LOGS_EXPORT_GRPC_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
export const LOGS_PATH = '/v1/logs';

/** Why the records are not kept, as told to the sender. */
export const NOT_KEPT = 'spanmeter meters LLM usage from spans; log records carry none and are not kept';

const LEN = 2;

/** Counts the log records of an `ExportLogsServiceRequest`, checking the wire format on the way. */
export function countLogRecordsProto(buf: Uint8Array): number {
  try {
    let records = 0;
    const req = protobuf.Reader.create(buf);
    while (req.pos < req.len) {
      const tag = req.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === LEN) {
        const rl = protobuf.Reader.create(req.bytes()); // ResourceLogs
        while (rl.pos < rl.len) {
          const t = rl.uint32();
          if (t >>> 3 === 2 && (t & 7) === LEN) {
            const sl = protobuf.Reader.create(rl.bytes()); // ScopeLogs
            while (sl.pos < sl.len) {
              const u = sl.uint32();
              if (u >>> 3 === 2 && (u & 7) === LEN) {
                sl.bytes(); // LogRecord
                records++;
              } else sl.skipType(u & 7);
            }
          } else rl.skipType(t & 7);
        }
      } else req.skipType(tag & 7);
    }
    return records;
  } catch (e) {
    throw new OtlpDecodeError(`invalid protobuf: ${(e as Error).message}`);
  }
}

/** Counts the log records of an OTLP/JSON `ExportLogsServiceRequest`. */
export function countLogRecordsJson(buf: Uint8Array): number {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (e) {
    throw new OtlpDecodeError(`invalid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OtlpDecodeError('invalid OTLP/JSON: the request is not an object');
  const resourceLogs = (doc as { resourceLogs?: unknown }).resourceLogs ?? [];
  if (!Array.isArray(resourceLogs)) throw new OtlpDecodeError('invalid OTLP/JSON: resourceLogs is not an array');
  let records = 0;
  for (const rl of resourceLogs) {
    const scopeLogs = (rl as { scopeLogs?: unknown } | null)?.scopeLogs ?? [];
    if (!Array.isArray(scopeLogs)) throw new OtlpDecodeError('invalid OTLP/JSON: scopeLogs is not an array');
    for (const sl of scopeLogs) {
      const logRecords = (sl as { logRecords?: unknown } | null)?.logRecords ?? [];
      if (!Array.isArray(logRecords)) throw new OtlpDecodeError('invalid OTLP/JSON: logRecords is not an array');
      records += logRecords.length;
    }
  }
  return records;
}

/** `ExportLogsServiceResponse` in protobuf: `partial_success { rejected_log_records, error_message }` when records were not kept. */
export function logsResponseProto(rejected: number): Uint8Array {
  if (rejected === 0) return new Uint8Array(0);
  const inner = protobuf.Writer.create().uint32((1 << 3) | 0).int64(rejected).uint32((2 << 3) | LEN).string(NOT_KEPT).finish();
  return protobuf.Writer.create().uint32((1 << 3) | LEN).bytes(inner).finish();
}

export function logsResponseJson(rejected: number): string {
  return rejected === 0 ? '{}' : JSON.stringify({ partialSuccess: { rejectedLogRecords: String(rejected), errorMessage: NOT_KEPT } });
}

/**
 * OTLP logs (`POST /v1/logs`, gRPC `LogsService/Export`): LiteLLM exports its GenAI events there
 * when `LITELLM_OTEL_INTEGRATION_ENABLE_EVENTS=true`. They carry no usage, so nothing is billed
 * from them; a receiver that answered 404 would make LiteLLM's log exporter report errors on every
 * batch. Each request is checked (a malformed one is refused with 400 as a trace request would
 * be) and its records counted. When a pipeline takes the receiver's logs, the request is handed on
 * as a `LogsBatch` (protobuf as received; JSON converted once); otherwise it is answered with
 * success and its records reported as not kept (`partial_success.rejected_log_records`).
 */
import protobuf from 'protobufjs';
import type { LogsBatch } from '../../src/data/logs.js';
import { OtlpDecodeError } from '../../src/otlp/index.js';
import { otlpDescriptor } from '../../src/otlp/proto/descriptor.generated.js';

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
  return parseLogsJson(buf).records;
}

/** Parses and checks an OTLP/JSON `ExportLogsServiceRequest`, counting its log records. */
function parseLogsJson(buf: Uint8Array): { doc: JsonLogs; records: number } {
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
  return { doc: doc, records };
}

// As parsed: the checks above let any element be null (or another non-object), and any list be null.
type JsonLogs = { resourceLogs?: ({ scopeLogs?: ({ logRecords?: unknown[] | null } | null)[] | null } | null)[] | null };

/** `ExportLogsServiceResponse` in protobuf: `partial_success { rejected_log_records, error_message }` when records were not kept. */
export function logsResponseProto(rejected: number): Uint8Array {
  if (rejected === 0) return new Uint8Array(0);
  const inner = protobuf.Writer.create()
    .uint32((1 << 3) | 0)
    .int64(rejected)
    .uint32((2 << 3) | LEN)
    .string(NOT_KEPT)
    .finish();
  return protobuf.Writer.create()
    .uint32((1 << 3) | LEN)
    .bytes(inner)
    .finish();
}

export function logsResponseJson(rejected: number): string {
  return rejected === 0 ? '{}' : JSON.stringify({ partialSuccess: { rejectedLogRecords: String(rejected), errorMessage: NOT_KEPT } });
}

// The OTLP logs messages (opentelemetry-proto logs/v1 and collector/logs/v1), on top of the vendored
// common and resource definitions: enough to turn an OTLP/JSON request into its protobuf form.
const SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const logsRoot = protobuf.Root.fromJSON(otlpDescriptor);
logsRoot.add(
  protobuf.Namespace.fromJSON('opentelemetry.proto.logs.v1', {
    nested: {
      SeverityNumber: {
        values: Object.fromEntries([
          ['SEVERITY_NUMBER_UNSPECIFIED', 0],
          ...SEVERITIES.flatMap((s, i) => ['', '2', '3', '4'].map((n, k): [string, number] => [`SEVERITY_NUMBER_${s}${n}`, i * 4 + k + 1])),
        ]),
      },
      ResourceLogs: {
        fields: {
          resource: { type: 'opentelemetry.proto.resource.v1.Resource', id: 1 },
          scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 },
          schemaUrl: { type: 'string', id: 3 },
        },
      },
      ScopeLogs: {
        fields: {
          scope: { type: 'opentelemetry.proto.common.v1.InstrumentationScope', id: 1 },
          logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
          schemaUrl: { type: 'string', id: 3 },
        },
      },
      LogRecord: {
        fields: {
          timeUnixNano: { type: 'fixed64', id: 1 },
          observedTimeUnixNano: { type: 'fixed64', id: 11 },
          severityNumber: { type: 'SeverityNumber', id: 2 },
          severityText: { type: 'string', id: 3 },
          body: { type: 'opentelemetry.proto.common.v1.AnyValue', id: 5 },
          attributes: { rule: 'repeated', type: 'opentelemetry.proto.common.v1.KeyValue', id: 6 },
          droppedAttributesCount: { type: 'uint32', id: 7 },
          flags: { type: 'fixed32', id: 8 },
          traceId: { type: 'bytes', id: 9 },
          spanId: { type: 'bytes', id: 10 },
          eventName: { type: 'string', id: 12 },
        },
      },
    },
  }),
);
logsRoot.add(
  protobuf.Namespace.fromJSON('opentelemetry.proto.collector.logs.v1', {
    nested: {
      ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'opentelemetry.proto.logs.v1.ResourceLogs', id: 1 } } },
    },
  }),
);
logsRoot.resolveAll();
export const ExportLogsServiceRequest = logsRoot.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');

/** OTLP/JSON ids are hex (not base64 as in protobuf's JSON mapping); empty when absent. */
function hexId(v: unknown, bytes: number, where: string): Buffer | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v))
    throw new OtlpDecodeError(`invalid OTLP/JSON: ${where} must be ${bytes * 2} hex characters`);
  return Buffer.from(v, 'hex');
}

/** A protobuf request as received: checked and counted. */
export function logsBatchProto(buf: Uint8Array): LogsBatch {
  return { protobuf: buf, logRecords: countLogRecordsProto(buf) };
}

/** An OTLP/JSON request, checked, counted and converted to protobuf. */
export function logsBatchJson(buf: Uint8Array): LogsBatch {
  const { doc, records: logRecords } = parseLogsJson(buf);
  (doc.resourceLogs ?? []).forEach((rl, i) =>
    (rl?.scopeLogs ?? []).forEach((sl, j) =>
      (sl?.logRecords ?? []).forEach((item, k) => {
        if (typeof item !== 'object' || item === null) return;
        const r = item as Record<string, unknown>;
        const where = `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`;
        r.traceId = hexId(r.traceId, 16, `${where}.traceId`);
        r.spanId = hexId(r.spanId, 8, `${where}.spanId`);
      }),
    ),
  );
  try {
    return { protobuf: ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(doc)).finish(), logRecords };
  } catch (e) {
    throw new OtlpDecodeError(`invalid OTLP/JSON: ${(e as Error).message}`);
  }
}

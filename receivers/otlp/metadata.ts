import { defineMetadata } from '../../src/telemetry/declare.js';

export const metadata = defineMetadata({
  type: 'otlp',
  kind: 'receiver',
  stability: 'beta',
  description: 'Receives OTLP traces and logs over HTTP (protobuf/JSON, gzip/deflate) and gRPC, as LiteLLM and OpenTelemetry SDKs send them.',
  metrics: {
    requests: {
      name: 'spanmeter_receiver_requests_total',
      type: 'counter',
      labels: ['receiver', 'transport', 'outcome'],
      description:
        'OTLP export requests by transport and outcome. `outcome`: success, partial_success, bad_request, unauthorized, unsupported_media_type, too_large, not_found, method_not_allowed, backpressure, rejected, unavailable, shutting_down, client_error (also a body cut for being slower than `min_body_rate` or past `read_timeout`: 408).',
    },
    wireBytes: {
      name: 'spanmeter_receiver_wire_bytes_total',
      type: 'counter',
      labels: ['receiver', 'transport'],
      description: 'Request body bytes as received (compressed when the sender compressed).',
    },
    decodedBytes: {
      name: 'spanmeter_receiver_decoded_bytes_total',
      type: 'counter',
      labels: ['receiver', 'transport'],
      description: 'Request body bytes after decompression (what was decoded).',
    },
    decodeErrors: {
      name: 'spanmeter_receiver_decode_errors_total',
      type: 'counter',
      labels: ['receiver', 'transport', 'encoding'],
      description: 'Requests whose body could not be decompressed or decoded (answered 400).',
    },
    logRecords: {
      name: 'spanmeter_receiver_log_records_total',
      type: 'counter',
      labels: ['receiver', 'transport'],
      description:
        "OTLP log records received on `/v1/logs` or `LogsService/Export` (LiteLLM's GenAI events): checked, then handed on when a pipeline carries logs, else answered as not kept.",
    },
    duration: {
      name: 'spanmeter_receiver_request_duration_seconds',
      type: 'histogram',
      labels: ['receiver', 'transport', 'outcome'],
      description:
        'Time from request start to response, including the wait for the pipeline to acknowledge. Histogram (`_bucket`, `_sum`, `_count`). Includes the group-commit fsync.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    },
  },
});

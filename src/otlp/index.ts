/** OTLP trace data ⇄ {@link SpanBatch}: binary protobuf and JSON. */
export {
  decodeOtlpProto,
  encodeOtlpProto,
  encodeExportResponseProto,
  decodeExportResponseProto,
  exportResponseJson,
  encodeRpcStatusProto,
  decodeRpcStatusProto,
  TRACE_EXPORT_GRPC_PATH,
  type ExportResponse,
} from './proto.js';
export { fromOtlpJson, decodeOtlpJson, toOtlpJson, OtlpDecodeError, anyValueToJson, attributesToJson } from './json.js';
export type { DecodeOptions } from './decode.js';

/**
 * `otlp` receiver: OTLP/HTTP (protobuf + JSON) and OTLP/gRPC trace export (and logs, handed on to
 * the pipelines that carry logs), with size limits that
 * hold after decompression, optional auth and TLS, and the acknowledgement contract: the sender gets
 * a success only after the pipeline accepted the spans. See README.md.
 */
import { defineFactory, type Consumer, type CreateSettings } from '../../src/component.js';
import type { SpanBatch } from '../../src/data/span.js';
import { configSchema, defaultConfig, validate, type OtlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './receiver.js';

export { OtlpReceiver } from './receiver.js';
export type { OtlpReceiverConfig } from './config.js';

export default defineFactory({
  kind: 'receiver',
  type: 'otlp',
  description: 'Receives OTLP traces and logs over HTTP (protobuf/JSON, gzip/deflate) and gRPC, as LiteLLM and OpenTelemetry SDKs send them.',
  stability: 'beta',
  produces: 'spans',
  alsoProduces: ['logs'],
  configSchema,
  defaultConfig,
  validate: (c: OtlpReceiverConfig) => validate(c),
  create: (settings, next: Consumer<SpanBatch>) => new OtlpReceiver(settings as CreateSettings<OtlpReceiverConfig>, next),
});

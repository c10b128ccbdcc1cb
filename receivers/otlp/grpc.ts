/** OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` (and `LogsService/Export`, see logs.ts), gzip/deflate via grpc-js. */
import * as grpc from '@grpc/grpc-js';
import { OtlpDecodeError, TRACE_EXPORT_GRPC_PATH, decodeOtlpProto, encodeExportResponseProto, encodeRpcStatusProto } from '../../src/otlp/index.js';
import type { SpanBatch } from '../../src/data/span.js';
import { readPem } from '../../src/server/config.js';
import type { ResolvedGrpc } from './config.js';
import { oneLine, splitHostPort } from './http.js';
import { LOGS_EXPORT_GRPC_PATH, logsBatchProto, logsResponseProto } from './logs.js';
import type { Outcome } from './metrics.js';
import { outcomeOf, type ExportResult, type OtlpHandler } from './handler.js';

const raw = (b: Buffer): Buffer => b;
const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The service, with the request left as bytes so that we decode it ourselves (with our limits and errors). */
export const traceServiceDefinition: grpc.ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_GRPC_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: toBuffer,
    responseDeserialize: raw,
  },
};

export const logsServiceDefinition: grpc.ServiceDefinition = {
  Export: { ...traceServiceDefinition.Export!, path: LOGS_EXPORT_GRPC_PATH },
};

function grpcError(code: grpc.status, message: string, retryAfterSeconds?: number): grpc.ServerErrorResponse {
  const metadata = new grpc.Metadata();
  // The OTLP spec: RESOURCE_EXHAUSTED / UNAVAILABLE carry a google.rpc.RetryInfo so clients know to retry, and when.
  if (retryAfterSeconds !== undefined) metadata.set('grpc-status-details-bin', toBuffer(encodeRpcStatusProto(code, message, retryAfterSeconds)));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

export class OtlpGrpcServer {
  private readonly server: grpc.Server;
  private port: number | null = null;
  private closed: Promise<void> | null = null;
  /** Export calls being handled (bounded by cfg.maxConcurrent). */
  private active = 0;

  constructor(
    private readonly rx: OtlpHandler,
    private readonly cfg: ResolvedGrpc,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': cfg.maxMessage,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
    });
    this.serve(traceServiceDefinition, (call) => this.handle(call));
    this.serve(logsServiceDefinition, (call) => this.handle(call, true));
  }

  /** Adds a unary Export handler to the server. */
  private serve(
    definition: grpc.ServiceDefinition,
    handle: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>) => Promise<Uint8Array | grpc.ServerErrorResponse>,
  ): void {
    this.server.addService(definition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        handle(call).then(
          (r) => (r instanceof Error ? callback(r) : callback(null, r)),
          (err: unknown) => {
            this.rx.logger.error({ err }, 'OTLP/gRPC handler failed');
            callback(grpcError(grpc.status.INTERNAL, 'internal error'));
          },
        );
      },
    });
  }

  listen(): Promise<void> {
    const creds = this.cfg.tls
      ? grpc.ServerCredentials.createSsl(
          this.cfg.tls.client_ca_file ? readPem(this.cfg.tls, 'client_ca_file') : null,
          [{ cert_chain: readPem(this.cfg.tls, 'cert_file'), private_key: readPem(this.cfg.tls, 'key_file') }],
          Boolean(this.cfg.tls.client_ca_file),
        )
      : grpc.ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.cfg.endpoint, creds, (err, port) => {
        if (err) {
          reject(new Error(`OTLP/gRPC cannot listen on ${this.cfg.endpoint}: ${err.message}`));
          return;
        }
        this.port = port;
        resolve();
      });
    });
  }

  address(): string | undefined {
    if (this.port === null) return undefined;
    const { host } = splitHostPort(this.cfg.endpoint);
    return host.includes(':') ? `[${host}]:${this.port}` : `${host}:${this.port}`;
  }

  /** Stops accepting calls, lets running calls finish until `deadline`, then cancels what is left. */
  close(deadline: number): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.port === null) {
        resolve();
        return;
      }
      const hard = setTimeout(
        () => {
          this.server.forceShutdown();
          resolve();
        },
        Math.max(0, deadline - Date.now()),
      );
      this.server.tryShutdown(() => {
        clearTimeout(hard);
        resolve();
      });
    });
    return this.closed;
  }

  /**
   * An export call: traces, or (`logs`) log records, checked and counted under the same
   * authentication and limits, handed on when a pipeline takes them and else answered as not kept
   * (see logs.ts).
   */
  private async handle(call: grpc.ServerUnaryCall<Buffer, Uint8Array>, logs = false): Promise<Uint8Array | grpc.ServerErrorResponse> {
    const started = process.hrtime.bigint();
    const rx = this.rx;
    const done = (outcome: Outcome) => rx.metrics.request('grpc', outcome, started);
    const refuse = (code: grpc.status, message: string, outcome: Outcome, retryAfter?: number) => {
      rx.refused(call.getPeer(), grpc.status[code], message);
      done(outcome);
      return grpcError(code, message, retryAfter);
    };
    if (rx.isClosing()) {
      done('shutting_down');
      return grpcError(grpc.status.UNAVAILABLE, 'shutting down; retry later', rx.retryAfterSeconds);
    }
    const md = call.metadata;
    if (
      !rx.authorized((name) => {
        const v = md.get(name)[0];
        return v === undefined ? undefined : String(v);
      })
    ) {
      return refuse(grpc.status.UNAUTHENTICATED, 'missing or invalid credentials', 'unauthorized');
    }
    if (this.active >= this.cfg.maxConcurrent) {
      return refuse(
        grpc.status.RESOURCE_EXHAUSTED,
        `too many concurrent calls (max_concurrent_requests: ${this.cfg.maxConcurrent}); retry later`,
        'too_many_requests',
        rx.retryAfterSeconds,
      );
    }
    this.active++;
    rx.enter();
    try {
      const buf = call.request;
      // grpc-js has already removed the gRPC framing and any gzip/deflate (within max_recv_msg_size).
      rx.metrics.bytes('grpc', buf.length, buf.length);
      let batch: SpanBatch | undefined;
      let pending: Promise<ExportResult>;
      try {
        if (logs) {
          const logsBatch = logsBatchProto(buf); // handed on as received
          rx.metrics.logs('grpc', logsBatch.logRecords);
          if (!rx.forwardsLogs) {
            done(logsBatch.logRecords ? 'partial_success' : 'success');
            return logsResponseProto(logsBatch.logRecords);
          }
          pending = rx.exportLogs(logsBatch, 'grpc');
        } else {
          batch = decodeOtlpProto(buf, { spanAttributes: rx.spanAttributes, spanSelector: rx.spanSelector });
          pending = rx.export(batch, 'grpc');
        }
      } catch (e) {
        if (!(e instanceof OtlpDecodeError)) throw e;
        rx.metrics.decodeError('grpc', 'proto');
        return refuse(grpc.status.INVALID_ARGUMENT, oneLine(e.message), 'bad_request');
      }
      batch = undefined; // not kept referenced while waiting (see the HTTP receiver)
      const result = await pending;
      switch (result.kind) {
        case 'ok':
          done(outcomeOf(result));
          return encodeExportResponseProto(result.response);
        case 'backpressure':
          return refuse(grpc.status.RESOURCE_EXHAUSTED, result.message, 'backpressure', result.retryAfterSeconds);
        case 'rejected':
          return refuse(grpc.status.INVALID_ARGUMENT, result.message, 'rejected');
        case 'unavailable':
          return refuse(grpc.status.UNAVAILABLE, result.message, 'unavailable', result.retryAfterSeconds);
      }
    } finally {
      this.active--;
      rx.leave();
    }
  }
}

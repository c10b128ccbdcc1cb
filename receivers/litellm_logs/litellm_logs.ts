/**
 * `litellm_logs` receiver: LiteLLM StandardLoggingPayload JSON → `llm_calls`.
 * - files/directories (`paths`): one object, a JSON array or NDJSON per file, gzip accepted; read
 *   once at start (this is what `spanmeter backfill` runs); bad files are skipped with a reason;
 * - HTTP (`http`): accepts what LiteLLM's `generic_api` logger POSTs (`log_format` json_array,
 *   ndjson or single; gzip bodies accepted).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackpressureError, type Consumer, type CreateSettings, type InspectEntry, type Receiver } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { sleep } from '../../src/backoff.js';
import { sloToLlmCall } from '../../integrations/litellm/slo.js';
import { parseSloDocument } from '../../integrations/litellm/slo-files.js';
import { BodyError, contentCoding } from '../../src/server/body.js';
import { resolveServer, type ResolvedServer } from '../../src/server/config.js';
import { Authenticator, closeServer, createHttpServer, header, listen, RefusalLog, remoteOf, replyJson, ServerLimits } from '../../src/server/server.js';
import { expandPaths } from './files.js';
import { readPayloadFile } from './read.js';
import { itemToLlmCalls } from './items.js';
import type { LitellmLogsConfig, LitellmLogsHttpConfig } from './config.js';

export interface FileProblem {
  path: string;
  reason: string;
}

export interface FilesSummary {
  filesTotal: number;
  filesRead: number;
  callsRead: number;
  /** Records inside readable files that are not LLM-call payloads. */
  invalidRecords: number;
  /** Files (or paths) not read at all, with the reason. */
  skipped: FileProblem[];
  /** The first reasons for invalid records (at most 20). */
  invalid: FileProblem[];
  bytesTotal: number;
  bytesDone: number;
}

export type ProgressListener = (s: Readonly<FilesSummary>) => void;

export class LitellmLogsReceiver implements Receiver {
  private server?: Server;
  private limits?: ServerLimits;
  private refusals: RefusalLog;
  private stopping = false;
  private started = false;
  private filesDone?: Promise<FilesSummary>;
  private readonly listeners: ProgressListener[] = [];
  readonly summary: FilesSummary = { filesTotal: 0, filesRead: 0, callsRead: 0, invalidRecords: 0, skipped: [], invalid: [], bytesTotal: 0, bytesDone: 0 };

  constructor(
    private readonly settings: CreateSettings<LitellmLogsConfig>,
    private readonly next: Consumer<LlmCall[]>,
  ) {
    this.refusals = new RefusalLog(settings.logger, 'litellm_logs');
  }

  /** Called after every file (and at the end) with the running summary. */
  onProgress(listener: ProgressListener): void {
    this.listeners.push(listener);
  }

  /** Resolves when every configured path has been read (immediately when there are none). */
  finished(): Promise<FilesSummary> {
    return this.filesDone ?? Promise.resolve(this.summary);
  }

  /** The address the HTTP endpoint listens on (`host:port`, useful with port 0), like the otlp receiver's. */
  boundAddresses(): { http?: string } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) return {};
    return { http: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` };
  }

  /** Opens the endpoint and starts reading the paths; a second call does nothing. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const http = this.settings.config.http;
    if (http) await this.listen(http);
    if (this.settings.config.paths.length) {
      this.filesDone = this.readAll().catch((err: unknown) => {
        this.settings.logger.error({ err }, 'litellm_logs: reading files failed');
        return this.summary;
      });
    }
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.server) {
      const s = this.server;
      this.server = undefined;
      await closeServer(s, Date.now() + 5000);
    }
    // Reading stops at the next batch boundary; wait for it so nothing is handed on after shutdown.
    await this.filesDone;
  }

  private emitProgress(): void {
    for (const l of this.listeners) l(this.summary);
  }

  /** Hands calls downstream; waits and retries while the pipeline signals back-pressure. */
  private async deliver(calls: LlmCall[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.next.consume(calls, { receiver: this.settings.id, transport: 'file' });
        this.settings.metrics.accepted(calls.length, 'file');
        return;
      } catch (e) {
        if (!(e instanceof BackpressureError) || this.stopping) {
          this.settings.metrics.failed(calls.length, 'file');
          throw e;
        }
        await sleep(Math.min(30_000, Math.max(50, e.retryAfterSeconds * 1000)));
      }
    }
  }

  private async readAll(): Promise<FilesSummary> {
    const s = this.summary;
    const { files, skipped } = expandPaths(this.settings.config.paths);
    // Every path named or found counts once, and ends either read or skipped.
    s.filesTotal = files.length + skipped.length;
    s.bytesTotal = files.reduce((n, f) => n + f.size, 0);
    s.skipped.push(...skipped);
    const batchSize = this.settings.config.batch_size;
    for (const f of files) {
      if (this.stopping) {
        s.skipped.push({ path: f.path, reason: 'not read: shutting down' });
        continue;
      }
      const noteInvalid = (reason: string) => {
        s.invalidRecords++;
        if (s.invalid.length < 20) s.invalid.push({ path: f.path, reason });
      };
      const bytesBefore = s.bytesDone;
      let batch: LlmCall[] = [];
      let index = 0;
      let stopped = false;
      let readError: Error | undefined;
      const events = readPayloadFile(f.path, (n) => (s.bytesDone = Math.min(bytesBefore + f.size, s.bytesDone + n)));
      try {
        for (;;) {
          let r: IteratorResult<{ item: unknown } | { bad: string }>;
          try {
            r = await events.next();
          } catch (e) {
            readError = e as Error; // the file cannot be read (further); what came before is delivered
            break;
          }
          if (r.done) break;
          // The check before the await does not hold after it: shutdown sets `stopping` meanwhile.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
          if (this.stopping) {
            stopped = true;
            break;
          }
          const ev = r.value;
          if ('bad' in ev) {
            noteInvalid(ev.bad);
            continue;
          }
          index++;
          try {
            const { calls, problems } = itemToLlmCalls(ev.item);
            for (const c of calls) batch.push(c);
            for (const p of problems) noteInvalid(`record ${index}: ${p}`);
          } catch (e) {
            noteInvalid(`record ${index}: ${(e as Error).message}`);
          }
          if (batch.length >= batchSize) {
            await this.deliver(batch);
            s.callsRead += batch.length;
            batch = [];
            this.emitProgress();
          }
        }
      } finally {
        await events.return(undefined).catch(() => undefined);
      }
      if (stopped) {
        s.skipped.push({ path: f.path, reason: `stopped after record ${index - batch.length}: shutting down` });
        s.bytesDone = bytesBefore + f.size;
        continue;
      }
      if (batch.length) {
        await this.deliver(batch);
        s.callsRead += batch.length;
      }
      s.bytesDone = bytesBefore + f.size;
      if (readError) {
        const reason = index ? `${readError.message} (after ${index} records, which were read)` : readError.message;
        s.skipped.push({ path: f.path, reason });
        this.settings.logger.warn({ file: f.path, reason }, 'litellm_logs: file skipped');
        this.emitProgress();
        continue;
      }
      s.filesRead++;
      this.emitProgress();
    }
    this.emitProgress();
    return s;
  }

  private listen(http: LitellmLogsHttpConfig): Promise<void> {
    const cfg = resolveServer(http);
    const path = http.path;
    const auth = new Authenticator(http.bearer_token ?? null);
    const limits = (this.limits = new ServerLimits(cfg));
    const server = createHttpServer(
      cfg,
      (req, res) => {
        this.handle(req, res, path, cfg, limits, auth).catch((err: unknown) => {
          this.settings.logger.error({ err }, 'litellm_logs: request failed');
          if (!res.headersSent) replyJson(res, 500, { error: 'internal error' });
        });
      },
      (remote, status, reason) => this.refusals.refused(remote, status, reason),
    );
    this.server = server;
    return listen(server, cfg.endpoint, 'litellm_logs HTTP', this.settings.logger).then(() => {
      this.settings.logger.info({ address: this.boundAddresses().http, path }, 'litellm_logs: HTTP endpoint listening');
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, path: string, cfg: ResolvedServer, limits: ServerLimits, auth: Authenticator): Promise<void> {
    const refuse = (status: number, error: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) => {
      if (!req.complete) {
        // Answered early: discard the rest, cut off a sender that keeps streaming far beyond the limit.
        let n = 0;
        req.on('data', (c: Buffer) => {
          if ((n += c.length) > cfg.maxBody) req.socket.destroy();
        });
        req.on('error', () => {});
        req.resume();
      }
      replyJson(res, status, { error, ...extra }, headers);
      this.refusals.refused(remoteOf(req), status, error);
    };
    const url = (req.url ?? '/').split('?')[0];
    if (url !== path) {
      refuse(404, `POST StandardLoggingPayload JSON to ${path}`);
      return;
    }
    if (req.method !== 'POST') {
      refuse(405, 'use POST', { Allow: 'POST' });
      return;
    }
    if (!auth.check((name) => header(req, name))) {
      refuse(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    if (this.stopping) {
      refuse(503, 'shutting down', { 'Retry-After': '5' });
      return;
    }
    const coding = contentCoding(req.headers['content-encoding']);
    if (!coding) {
      refuse(415, 'unsupported Content-Encoding; use gzip, deflate or none');
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > cfg.maxBody) {
      refuse(413, `body larger than ${cfg.maxBody} bytes`);
      return;
    }
    // The body is read before a processing slot is taken (a slow sender holds none).
    const reading = limits.readBody(req, coding);
    let slot = false;
    try {
      let data: Buffer;
      try {
        data = (await reading.body).data;
      } catch (e) {
        const be = e instanceof BodyError ? e : new BodyError(400, String(e));
        if (be.status === 499) return void res.destroy();
        if (be.status === 408) {
          res.once('finish', () => req.socket.destroy());
          refuse(408, be.message, { Connection: 'close' });
          return;
        }
        if (be.status === 429) {
          refuse(429, be.message, { 'Retry-After': '1' });
          return;
        }
        refuse(be.status, be.status === 413 ? `body larger than ${cfg.maxBody} bytes` : be.message);
        return;
      }
      if (!limits.tryAcquire()) {
        refuse(429, `too many concurrent requests (max_concurrent_requests: ${cfg.maxConcurrent}); retry later`, { 'Retry-After': '1' });
        return;
      }
      slot = true;
      let doc;
      try {
        doc = parseSloDocument(data);
      } catch (e) {
        this.settings.metrics.refused(1, 'http');
        refuse(400, oneLine((e as Error).message));
        return;
      }
      reading.release();
      const calls: LlmCall[] = [];
      const errors: string[] = [...doc.badLines];
      doc.items.forEach((item, i) => {
        try {
          calls.push(sloToLlmCall(item));
        } catch (e) {
          errors.push(`record ${i + 1}: ${(e as Error).message}`);
        }
      });
      if (errors.length) this.settings.logger.warn({ rejected: errors.length, first: oneLine(errors[0]!) }, 'litellm_logs: invalid records in a request');
      if (!calls.length) {
        this.settings.metrics.refused(errors.length || 1, 'http');
        refuse(400, 'no valid StandardLoggingPayload in the body', {}, { details: errors.slice(0, 10).map(oneLine) });
        return;
      }
      try {
        await this.next.consume(calls, { receiver: this.settings.id, transport: 'http' });
      } catch (e) {
        this.settings.metrics.refused(calls.length, 'http');
        if (e instanceof BackpressureError) {
          refuse(429, e.message, { 'Retry-After': String(Math.ceil(e.retryAfterSeconds)) });
          return;
        }
        throw e;
      }
      this.settings.metrics.accepted(calls.length, 'http');
      if (errors.length) this.settings.metrics.refused(errors.length, 'http');
      replyJson(res, 200, { accepted: calls.length, rejected: errors.length, errors: errors.slice(0, 10).map(oneLine) });
    } finally {
      reading.release();
      if (slot) limits.release();
    }
  }
}

function oneLine(m: string): string {
  const s = m.replace(/\s+/g, ' ');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** `spanmeter inspect` of a payload document: per payload, the call it yields or why not. */
export function inspectDocument(text: string): InspectEntry[] {
  let doc;
  try {
    doc = parseSloDocument(Buffer.from(text, 'utf8'));
  } catch {
    return []; // not a payload document: another reader's, or none
  }
  const entries: InspectEntry[] = doc.badLines.map((b) => ({ item: b, outcome: 'invalid' as const, reason: 'not JSON' }));
  doc.items.forEach((payload, i) => {
    const item = `payload ${i + 1}`;
    try {
      const call = sloToLlmCall(payload);
      const u = call.usage;
      const summary = `${call.callType ?? '?'} ${call.model ?? '?'} (${call.provider ?? '?'}); id ${call.id}; tokens ${u.promptTokens} in / ${u.completionTokens} out; team ${call.teamId ?? '-'}, key ${call.keyAlias ?? '-'}; ${call.error ? `error ${call.error.code ?? '?'}` : 'success'}`;
      entries.push({ item, outcome: 'billed', as: 'litellm.slo', summary, record: call });
    } catch (e) {
      entries.push({ item, outcome: 'invalid', reason: (e as Error).message });
    }
  });
  return entries;
}

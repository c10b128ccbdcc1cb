/** JSON logs (pino) on stdout; the level comes from pipeline.yaml or SPANMETER_LOG_LEVEL. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { redactText, redactValue } from './redact.js';

export interface RecentLog {
  time: string;
  level: string;
  msg: string;
  component?: string;
  err?: string;
}

/** The last warnings and errors, for the status page. */
export class RecentErrors extends Writable {
  readonly entries: RecentLog[] = [];
  constructor(private readonly max = 50) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const o = JSON.parse(line) as { time?: string; level?: string; msg?: string; component?: string; err?: { message?: string } };
        this.entries.push({ time: o.time ?? '', level: o.level ?? '', msg: o.msg ?? '', component: o.component, err: o.err?.message });
        if (this.entries.length > this.max) this.entries.shift();
      } catch {
        /* not JSON: ignore */
      }
    }
    done();
  }
}

export const recentErrors = new RecentErrors();

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const out = destination ?? pino.destination({ fd: 1, sync: false });
  if (level === 'silent') return pino({ level: 'silent' }, out);
  const validLevel = level in pino.levels.values ? level : 'info';
  return pino(
    {
      level: validLevel,
      base: { service: 'spanmeter' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never log secrets: keys named like secrets, credentials in URLs, header values and token
      // shapes in messages, fields and error messages (an upstream body may echo request headers).
      hooks: {
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = redactText(args[i] as string);
          method.apply(this, args);
        },
      },
      formatters: { level: (label) => ({ level: label }), log: (o) => redactValue(o) as Record<string, unknown> },
      serializers: {
        err: (e: Error) => {
          // A plain copy: the serializer's object has its own prototype.
          const o = { ...(pino.stdSerializers.err(e) as unknown as Record<string, unknown>) };
          return redactValue(o);
        },
      },
      redact: {
        paths: [
          '*.password',
          '*.secret',
          '*.api_key',
          '*.apiKey',
          '*.master_key',
          '*.token',
          '*.bearer_token',
          '*.connection_string',
          '*.account_key',
          '*.secret_access_key',
        ],
        censor: '[redacted]',
      },
    },
    pino.multistream([
      { level: validLevel, stream: out },
      { level: 'warn', stream: recentErrors },
    ]),
  );
}

/**
 * Process warnings (MaxListenersExceededWarning, a dependency's deprecation notice) go through the
 * logger instead of Node's plain-text stderr printer, so the output stays one JSON log stream.
 */
export function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    logger.warn({ warning: w.name, code: w.code, detail: w.message }, `process warning: ${w.name}: ${w.message.split('\n')[0]}`);
  });
}

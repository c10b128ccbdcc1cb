/** JSON logs (pino) on stdout; the level comes from pipeline.yaml or SPANMETER_LOG_LEVEL. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'spanmeter' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Never log secrets even if a component passes its whole config to a log call.
      redact: {
        paths: ['*.password', '*.secret', '*.api_key', '*.apiKey', '*.master_key', '*.token', '*.bearer_token', '*.connection_string', '*.account_key', '*.secret_access_key', '*.url'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

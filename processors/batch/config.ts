import type { ConfigProblem } from '../../src/component.js';
import { ByteSize, Duration, Settings, Type, type Static } from '../../src/config/declare.js';

/** The batch processor's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    send_batch_size: Type.Integer({ minimum: 1, default: 100, description: 'Cut a batch when it holds this many records (AFLO_BATCH_SIZE).' }),
    send_batch_max_size: Type.Integer({
      minimum: 1,
      default: 5000,
      description:
        'While cut batches wait for the exporters, consecutive ones are sent as one object of up to this many records (and max_bytes), so that under load fewer, larger files are written, as the callback flushes its whole buffer. A value at or below send_batch_size sends every batch as it was cut.',
    }),
    merge_wait: Duration({
      default: '1s',
      description:
        'With merging on (send_batch_max_size above send_batch_size): a send starts at least this long after the previous one started, so that the batches cut meanwhile go out merged, unless send_batch_max_size records, or half of max_pending_records, already wait. Fewer objects per second under a steady load, each delivered up to this much later. "0s" sends as soon as the exporters are free.',
    }),
    max_bytes: ByteSize({
      default: 0,
      description: 'Cut a batch before its uncompressed JSON would exceed this many bytes (a number or "4MiB"; 0 = no limit).',
    }),
    timeout: Duration({
      default: '300s',
      description: 'Cut a batch this long after its first record arrived (AFLO_FLUSH_INTERVAL; "0s" = send every request at once).',
    }),
    partition_by: Type.Array(Type.String({ minLength: 1 }), {
      uniqueItems: true,
      default: [],
      description:
        'Dimension names; records with different values go to different batches (one open batch per combination). Use the routing dimension of your exporters so every object has one route.',
    }),
    max_pending_records: Type.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'Bound on records held (open batches + batches waiting for or retrying delivery), like AFLO_MAX_BUFFER_SIZE. Beyond it, new data is refused with back-pressure (receivers answer 429).',
    }),
    max_in_flight: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 4,
      description:
        'Cut batches handed to the exporters at the same time, per partition. Writing a batch to a spool or a store waits on the disk or the network; one at a time, those waits cap the throughput. 1 = strictly one after the other.',
    }),
    retry_initial_interval: Duration({
      default: '1s',
      description: 'After the exporters fail a batch (their own retries exhausted), wait this long before sending it again (doubling).',
    }),
    retry_max_interval: Duration({ default: '60s', description: 'Upper bound of that wait.' }),
  },
  { description: 'Batch processor settings.' },
);

export type BatchConfig = Static<typeof configSchema>;

/** Checks a schema cannot express. */
export function validate(c: BatchConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (c.max_pending_records < c.send_batch_size) {
    out.push({ path: 'max_pending_records', message: `must be at least send_batch_size (${c.send_batch_size})` });
  }
  if (c.retry_initial_interval > c.retry_max_interval) out.push({ path: 'retry_initial_interval', message: 'must not exceed retry_max_interval' });
  return out;
}

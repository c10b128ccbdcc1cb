import { parseDuration } from '../../src/config/duration.js';

export interface BatchConfig {
  send_batch_size: number;
  /** While cut batches wait for the exporters, consecutive ones go out as one object of up to this many records. */
  send_batch_max_size?: number;
  /** How long after a send the next one waits for more batches to merge with (see the schema). */
  merge_wait?: string;
  max_bytes: number;
  timeout: string;
  partition_by: string[];
  max_pending_records: number;
  /** Cut batches handed to the exporters at the same time, per partition. */
  max_in_flight?: number;
  retry_initial_interval: string;
  retry_max_interval: string;
}

export const defaultConfig = (): BatchConfig => ({
  send_batch_size: 100,
  send_batch_max_size: 5000,
  merge_wait: '1s',
  max_bytes: 0,
  timeout: '300s',
  partition_by: [],
  max_pending_records: 10_000,
  max_in_flight: 4,
  retry_initial_interval: '1s',
  retry_max_interval: '60s',
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    send_batch_size: {
      type: 'integer',
      minimum: 1,
      description: 'Cut a batch when it holds this many records (AFLO_BATCH_SIZE; default 100).',
    },
    send_batch_max_size: {
      type: 'integer',
      minimum: 1,
      description:
        'While cut batches wait for the exporters, consecutive ones are sent as one object of up to this many records (and max_bytes), so that under load fewer, larger files are written, as the callback flushes its whole buffer. A value at or below send_batch_size sends every batch as it was cut. Default 5000.',
    },
    merge_wait: {
      type: 'string',
      format: 'duration',
      description:
        'With merging on (send_batch_max_size above send_batch_size): a send starts at least this long after the previous one started, so that the batches cut meanwhile go out merged, unless send_batch_max_size records, or half of max_pending_records, already wait. Fewer objects per second under a steady load, each delivered up to this much later. Default "1s"; "0s" sends as soon as the exporters are free.',
    },
    max_bytes: {
      type: 'integer',
      minimum: 0,
      description: 'Cut a batch before its uncompressed JSON would exceed this many bytes (default 0 = no limit).',
    },
    timeout: {
      type: 'string',
      format: 'duration',
      description: 'Cut a batch this long after its first record arrived (AFLO_FLUSH_INTERVAL; default "300s"; "0s" = send every request at once).',
    },
    partition_by: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      uniqueItems: true,
      description: 'Dimension names; records with different values go to different batches (one open batch per combination). Use the routing dimension of your exporters so every object has one route. Default [].',
    },
    max_pending_records: {
      type: 'integer',
      minimum: 1,
      description: 'Bound on records held (open batches + batches waiting for or retrying delivery), like AFLO_MAX_BUFFER_SIZE. Beyond it, new data is refused with back-pressure (receivers answer 429). Default 10000.',
    },
    max_in_flight: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      description:
        'Cut batches handed to the exporters at the same time, per partition (default 4). Writing a batch to a spool or a store waits on the disk or the network; one at a time, those waits cap the throughput. 1 = strictly one after the other.',
    },
    retry_initial_interval: {
      type: 'string',
      format: 'duration',
      description: 'After the exporters fail a batch (their own retries exhausted), wait this long before sending it again (doubling; default "1s").',
    },
    retry_max_interval: { type: 'string', format: 'duration', description: 'Upper bound of that wait (default "60s").' },
  },
} as const;

export function validate(c: BatchConfig): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (c.max_pending_records < c.send_batch_size) {
    out.push({ path: 'max_pending_records', message: `must be at least send_batch_size (${c.send_batch_size})` });
  }
  try {
    if (parseDuration(c.retry_initial_interval) > parseDuration(c.retry_max_interval)) {
      out.push({ path: 'retry_initial_interval', message: 'must not exceed retry_max_interval' });
    }
  } catch {
    /* reported by the schema */
  }
  return out;
}

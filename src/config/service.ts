/**
 * The `service:` section of pipeline.yaml, declared once: schema, defaults and docs
 * (docs/configuration.md's table is generated from it), and its resolved form.
 */
import { hostname } from 'node:os';
import type { LlmCallLimits } from '../data/llm-call-checks.js';
import { ByteSize, Duration, Section, Settings, Type, converted, withDefaults, type Static } from './declare.js';

const PIPELINE = Settings(
  {
    receivers: Type.Array(Type.String(), { minItems: 1, description: 'Receiver ids.' }),
    processors: Type.Optional(Type.Union([Type.Null(), Type.Array(Type.String())], { description: 'Processor ids, in order.' })),
    exporters: Type.Array(Type.String(), { minItems: 1, description: 'Exporter ids.' }),
  },
  { description: 'A pipeline: receivers → processors → exporters.' },
);

export const BILLING_CHECKS = Section(
  {
    earliest_time: Type.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}(T.*)?$',
      default: '2000-01-01',
      description: 'Earliest accepted start time of an LLM call (a date or date-time); earlier calls are dropped.',
    }),
    max_future: Duration({ default: '24h', description: 'How far past now a start time may be (clock skew); later calls are dropped.' }),
    max_duration: Duration({ default: '168h', description: 'Longest call duration kept as is; longer ones are clamped.' }),
    max_tokens: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1e12, description: 'Largest token count; calls with more are dropped.' }),
    max_id_length: Type.Integer({
      minimum: 16,
      maximum: 1_000_000,
      default: 256,
      description: 'Longest id or dimension string kept as is; longer ones are hashed.',
    }),
  },
  { description: 'Billing-value checks every LLM call passes before the write-ahead log.' },
);

export const SERVICE = Settings(
  {
    pipelines: Type.Record(Type.String(), PIPELINE, { minProperties: 1, description: 'The pipelines, by name (`logs` or `logs/<name>` for a logs pipeline).' }),
    telemetry: Section(
      {
        logs: Section(
          {
            level: Type.Optional(
              Type.Union(
                [
                  Type.Literal('trace'),
                  Type.Literal('debug'),
                  Type.Literal('info'),
                  Type.Literal('warn'),
                  Type.Literal('error'),
                  Type.Literal('fatal'),
                  Type.Literal('silent'),
                ],
                {
                  description: 'Log level (default: SPANMETER_LOG_LEVEL, else info).',
                },
              ),
            ),
          },
          { description: "The service's own logs (JSON on stdout)." },
        ),
        metrics: Section(
          {
            address: Type.Union([Type.String({ format: 'host-port' }), Type.Null(), Type.Literal('off')], {
              default: '127.0.0.1:8888',
              description: 'Admin address: /metrics, /health/live, /health/ready, /status. null or "off" disables it.',
            }),
          },
          { description: 'The admin and metrics server.' },
        ),
      },
      { description: 'Self-telemetry.' },
    ),
    data_dir: Type.String({ minLength: 1, default: './data', description: 'Directory of durable state: write-ahead logs, spools, dead letters.' }),
    instance_id: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9._-]{1,64}$',
        description: 'Name of this instance in object keys, so replicas never collide (default: HOSTNAME, else the host name).',
      }),
    ),
    shutdown_timeout: Duration({ default: '30s', description: 'How long a shutdown may take to flush and deliver before it stops anyway.' }),
    billing_checks: BILLING_CHECKS,
    durability: Section(
      {
        enabled: Type.Boolean({ default: true, description: 'Write-ahead log and spools. false: acknowledgements mean "accepted in memory".' }),
        max_disk_bytes: ByteSize({ default: '1GiB', description: 'Disk budget for all logs and spools; 0 = unlimited.' }),
        sync_delay: Duration({
          default: '0ms',
          description:
            'Extra wait before a group commit (0: the next turn of the event loop); appends arriving while an fdatasync runs share the next one anyway.',
        }),
        segment_size: ByteSize({ default: '16MiB', description: 'Size of one write-ahead log segment file.' }),
        memory_buffer: ByteSize({ default: '16MiB', description: 'Recent log records kept in memory for forwarding.' }),
        checkpoint_interval: Duration({ default: '200ms', description: "How often the log's delivered position is written." }),
        min_free_disk: ByteSize({
          default: '32MiB',
          description: "Free space kept on the data directory's file system for delivery: new data is refused below it.",
        }),
      },
      { description: 'Durability: write-ahead logs and spools.' },
    ),
  },
  { description: 'Service settings.' },
);

export type ServiceConfig = Static<typeof SERVICE>;

export interface DurabilitySettings {
  /** Write-ahead log + spools. Off: acknowledgements mean "accepted in memory". */
  enabled: boolean;
  /** Disk budget for all logs and spools; 0 = unlimited. */
  maxDiskBytes: number;
  /** Extra wait before a group commit (0: the next turn of the event loop). */
  syncDelayMs: number;
  segmentBytes: number;
  /** Recent log records kept in memory for forwarding. */
  memoryBytes: number;
  checkpointIntervalMs: number;
  /** Free space kept on the data directory's file system for delivery. */
  minFreeBytes: number;
}

export interface ServiceSettings {
  durability: DurabilitySettings;
  logLevel: string;
  /** Admin/metrics/health HTTP address, or null when disabled. */
  metricsAddress: string | null;
  dataDir: string;
  instanceId: string;
  shutdownTimeoutMs: number;
  /** Billing-value checks every LLM call passes before the write-ahead log. */
  billingChecks: LlmCallLimits;
}

/** The billing checks of a resolved `billing_checks` block; NaN `earliestMs` when the date is not one. */
export function billingLimits(b: Static<typeof BILLING_CHECKS>): LlmCallLimits {
  return {
    earliestMs: Date.parse(b.earliest_time),
    maxFutureMs: b.max_future,
    maxDurationMs: b.max_duration,
    maxTokens: b.max_tokens,
    maxIdLength: b.max_id_length,
  };
}

/** The billing checks with every key at its default. */
export function defaultBillingLimits(): LlmCallLimits {
  return billingLimits(converted(BILLING_CHECKS, withDefaults(BILLING_CHECKS, null)) as Static<typeof BILLING_CHECKS>);
}

/** The service settings of a `service:` section with its defaults filled in (withDefaults) that passed the schema. */
export function resolveService(filled: unknown, env: NodeJS.ProcessEnv): ServiceSettings {
  const s = converted(SERVICE, filled) as ServiceConfig;
  const d = s.durability;
  const address = s.telemetry.metrics.address;
  return {
    billingChecks: billingLimits(s.billing_checks),
    durability: {
      enabled: d.enabled,
      maxDiskBytes: d.max_disk_bytes,
      syncDelayMs: d.sync_delay,
      segmentBytes: d.segment_size,
      memoryBytes: d.memory_buffer,
      checkpointIntervalMs: d.checkpoint_interval,
      minFreeBytes: d.min_free_disk,
    },
    logLevel: s.telemetry.logs.level ?? env.SPANMETER_LOG_LEVEL ?? 'info',
    metricsAddress: typeof address === 'string' && address !== 'off' ? address : null,
    dataDir: s.data_dir,
    instanceId: s.instance_id ?? sanitizeInstance(env.HOSTNAME ?? hostname()),
    shutdownTimeoutMs: s.shutdown_timeout,
  };
}

function sanitizeInstance(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'spanmeter';
}

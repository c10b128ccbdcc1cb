/**
 * `spanmeter backfill <paths...>`: runs the configured pipeline(s) over LiteLLM
 * StandardLoggingPayload files instead of live spans. Every pipeline that carries `llm_calls` is
 * re-headed: its span stages (e.g. `litellm`) are cut off and the `litellm_logs` receiver reading
 * the given paths feeds the rest (e.g. `amberflo` → `batch` → exporters). Pipelines that never
 * carry `llm_calls` are left out, as are components only they use (no ports are opened).
 * Ends with a full shutdown, so every batch is flushed and every file written. State (write-ahead
 * log, spools) goes to `<service.data_dir>/backfill`, apart from a live instance's; run one
 * backfill at a time per data_dir.
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { componentKey, formatError, loadConfig, type ComponentConfig, type PipelineConfig, type ResolvedConfig } from './config/config.js';
import type { ReceiverFactory } from './component.js';
import { createRegistry, type ComponentRegistry } from './registry.js';
import { Service } from './service.js';
import { createLogger } from './telemetry/logger.js';

export const BACKFILL_RECEIVER_ID = 'litellm_logs/backfill';

/** Summary of the files read (the `litellm_logs` receiver's running summary). */
export interface BackfillFilesSummary {
  filesTotal: number;
  filesRead: number;
  callsRead: number;
  invalidRecords: number;
  skipped: { path: string; reason: string }[];
  invalid: { path: string; reason: string }[];
  bytesTotal: number;
  bytesDone: number;
}

export interface BackfillResult {
  files: BackfillFilesSummary;
  /** Records delivered per exporter id. */
  written: Record<string, number>;
  pipelines: string[];
  seconds: number;
}

interface FilesReceiver {
  onProgress(l: (s: Readonly<BackfillFilesSummary>) => void): void;
  finished(): Promise<BackfillFilesSummary>;
}

/** Rewrites a loaded config for a backfill over `paths` (see the file comment). */
export function backfillConfig(config: ResolvedConfig, registry: ComponentRegistry, paths: string[], batchSize?: number): ResolvedConfig {
  const factory = registry.get('receiver', 'litellm_logs') as ReceiverFactory | undefined;
  if (!factory) throw new Error('the litellm_logs receiver is not available');
  const pipelines: PipelineConfig[] = [];
  for (const p of config.pipelines) {
    const at = p.types.indexOf('llm_calls');
    if (at < 0) continue;
    pipelines.push({ name: p.name, receivers: [BACKFILL_RECEIVER_ID], processors: p.processors.slice(at), exporters: p.exporters, types: p.types.slice(at) });
  }
  if (!pipelines.length) {
    throw new Error('no pipeline in the configuration carries llm_calls (e.g. receivers → litellm → amberflo → exporters); nothing to backfill into');
  }
  const components = new Map<string, ComponentConfig>();
  const keep = (kind: 'processor' | 'exporter', id: string) => {
    const c = config.components.get(componentKey(kind, id));
    if (c) components.set(componentKey(kind, id), c);
  };
  for (const p of pipelines) {
    p.processors.forEach((id) => keep('processor', id));
    p.exporters.forEach((id) => keep('exporter', id));
  }
  const rxConfig = { ...(factory.defaultConfig() as Record<string, unknown>), paths, http: null, ...(batchSize ? { batch_size: batchSize } : {}) };
  components.set(componentKey('receiver', BACKFILL_RECEIVER_ID), { kind: 'receiver', id: BACKFILL_RECEIVER_ID, type: 'litellm_logs', factory, config: rxConfig });
  // Own state directory (write-ahead log, spools): a live spanmeter on the same data_dir is never
  // disturbed, and a re-run resumes whatever a failed backfill left in its spools.
  const service = { ...config.service, dataDir: join(config.service.dataDir, 'backfill') };
  return { ...config, components, pipelines, service };
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** One progress line: files, records read, records/s, bytes and ETA (by bytes). */
export function progressLine(s: Readonly<BackfillFilesSummary>, elapsedMs: number): string {
  const secs = Math.max(elapsedMs / 1000, 0.001);
  const rate = s.callsRead / secs;
  const frac = s.bytesTotal ? s.bytesDone / s.bytesTotal : 1;
  const eta = frac > 0 && frac < 1 ? (secs * (1 - frac)) / frac : 0;
  return `backfill: ${s.filesRead + s.skipped.length}/${s.filesTotal} files, ${s.callsRead} records, ${Math.round(rate)} records/s, ${fmtBytes(s.bytesDone)}/${fmtBytes(s.bytesTotal)} (${Math.floor(frac * 100)}%), ETA ${fmtDuration(eta)}`;
}

export interface BackfillOptions {
  files: string[];
  paths: string[];
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  logger?: Logger;
  registry?: ComponentRegistry;
  env?: NodeJS.ProcessEnv;
  batchSize?: number;
}

/** Runs a backfill to completion (flush included). Throws on an invalid configuration. */
export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const registry = o.registry ?? (await createRegistry());
  const { config, errors } = await loadConfig(o.files, registry, { env: o.env });
  if (!config) throw new Error(`invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n  ${errors.map(formatError).join('\n  ')}`);
  const bf = backfillConfig(config, registry, o.paths, o.batchSize);
  const logger = o.logger ?? createLogger(config.service.logLevel === 'info' ? 'warn' : config.service.logLevel, process.stderr);
  const service = new Service(bf, { logger, metricsAddress: null, processMetrics: false });
  const out = o.stderr ?? process.stderr;
  const started = Date.now();
  let last = 0;
  const tty = Boolean(out.isTTY);
  const show = (s: Readonly<BackfillFilesSummary>, final = false) => {
    const now = Date.now();
    if (!final && now - last < (tty ? 200 : 5000)) return;
    last = now;
    const line = progressLine(s, now - started);
    out.write(tty ? `\r\x1b[2K${line}${final ? '\n' : ''}` : `${line}\n`);
  };
  await service.start();
  let files: BackfillFilesSummary;
  try {
    const rx = service.graph.nodes.find((n) => n.kind === 'receiver' && n.id === BACKFILL_RECEIVER_ID)!.instance as unknown as FilesReceiver;
    rx.onProgress((s) => show(s));
    files = await rx.finished();
  } finally {
    await service.shutdown();
  }
  show(files, true);
  const written: Record<string, number> = {};
  for (const v of (await service.metrics.exporterSent.get()).values) written[String(v.labels.exporter)] = (written[String(v.labels.exporter)] ?? 0) + v.value;
  for (const p of bf.pipelines) for (const e of p.exporters) written[e] ??= 0;
  return { files, written, pipelines: bf.pipelines.map((p) => p.name), seconds: (Date.now() - started) / 1000 };
}

/** The human summary printed at the end. */
export function summaryText(r: BackfillResult): string {
  const f = r.files;
  const lines = [
    `backfill finished in ${r.seconds.toFixed(1)} s (pipelines: ${r.pipelines.join(', ')})`,
    `  files: ${f.filesRead} read, ${f.skipped.length} skipped (of ${f.filesTotal} found)`,
    `  LLM calls read: ${f.callsRead}${f.invalidRecords ? `; invalid records skipped: ${f.invalidRecords}` : ''}`,
    ...Object.entries(r.written).map(([id, n]) => `  records written by ${id}: ${n}`),
  ];
  for (const s of f.skipped) lines.push(`  skipped ${s.path}: ${s.reason}`);
  for (const s of f.invalid) lines.push(`  invalid record in ${s.path}: ${s.reason}`);
  if (f.invalidRecords > f.invalid.length) lines.push(`  ... and ${f.invalidRecords - f.invalid.length} more invalid records`);
  return lines.join('\n') + '\n';
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The `backfill` subcommand. `configFiles` resolves `--config` the way `run` does
 * (default ./pipeline.yaml, else the embedded default). Exit code 0 when every file was read,
 * 1 when the configuration is invalid or any file was skipped.
 */
export function backfillCommand(configFiles: (given: string[] | undefined) => string[]): Command {
  return new Command('backfill')
    .description('run the pipeline over LiteLLM StandardLoggingPayload files (JSON, JSON array or NDJSON; .gz accepted) or directories of them')
    .argument('<paths...>', 'files or directories')
    .addOption(new Option('-c, --config <file>', 'pipeline.yaml file (repeatable)').argParser(collect))
    .addOption(new Option('--batch-size <n>', 'LLM calls per hand-off').argParser((v) => Number.parseInt(v, 10)))
    .action(async (paths: string[], opts: { config?: string[]; batchSize?: number }) => {
      let result: BackfillResult;
      try {
        result = await runBackfill({ files: configFiles(opts.config), paths, batchSize: opts.batchSize });
      } catch (e) {
        process.stderr.write(`spanmeter backfill: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stderr.write(summaryText(result));
      process.exitCode = result.files.skipped.length ? 1 : 0;
    });
}

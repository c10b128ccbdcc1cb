/**
 * `spanmeter backfill <paths...>`: runs the configured pipeline(s) over files of past LLM calls
 * (the formats the {@link BackfillSource}'s receiver reads) instead of live spans. Every pipeline
 * that carries `llm_calls` is re-headed: its span stages are cut off and the source's receiver
 * reading the given paths feeds the rest (the record mapping → `batch` → exporters). Pipelines that never carry `llm_calls` are left out, as are components only they
 * use (no ports are opened). `--exporter NAME` sends to the named exporter(s) instead of the
 * pipelines' (e.g. one defined in an extra --config file); `--dry-run` writes nothing and prints
 * each object that would be written.
 * Ends with a full shutdown, so every batch is flushed and every file written. State (write-ahead
 * log, spools) goes to `<service.data_dir>/backfill`, apart from a live instance's (a dry run uses
 * a temporary directory); run one backfill at a time per data_dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { Logger } from 'pino';
import { componentKey, formatError, loadConfig, type ComponentConfig, type PipelineConfig, type ResolvedConfig } from './config/config.js';
import { consumesOf, defineFactory, type ExporterFactory, type ReceiverFactory } from './component.js';
import { configOf } from './config/component-config.js';
import type { MeterRecord } from './data/meter-record.js';
import type { ObjectFormat } from './output/encode.js';
import { dormancyText, isActive, type WhenConfig } from './output/when.js';
import { createRegistry, type ComponentRegistry } from './registry.js';
import { Service } from './service.js';
import { createLogger } from './telemetry/logger.js';

/** What a backfill reads with, supplied by the integration whose files it reads. */
export interface BackfillSource {
  /** Type of the receiver that reads files of past calls: given `paths` and `http: null`, it reads them and finishes. */
  receiver: string;
  /** What that receiver reads, in words, for the help and the summary. */
  formats: string;
  /** The object format the exporters write, for the keys a dry run prints. */
  objects: ObjectFormat;
}

/** The id of the receiver that reads the files. */
export const backfillReceiverId = (source: BackfillSource): string => `${source.receiver}/backfill`;

/** Summary of the files read (the source receiver's running summary). */
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
  /** Records delivered per exporter id (a dry run: records that would have been). */
  written: Record<string, number>;
  /** Objects (files, uploads, requests) per exporter id, in a dry run. */
  objects?: Record<string, number>;
  dryRun: boolean;
  pipelines: string[];
  seconds: number;
  /** What the source reads, in words (the summary repeats it when files were skipped). */
  formats: string;
}

interface FilesReceiver {
  onProgress(l: (s: Readonly<BackfillFilesSummary>) => void): void;
  finished(): Promise<BackfillFilesSummary>;
}

export interface BackfillConfigOptions {
  source: BackfillSource;
  batchSize?: number;
  /** Send to these exporters instead of the pipelines' own. */
  exporters?: string[];
  /** Replace every active exporter by one that only reports what it would write. */
  dryRun?: { write: (line: string) => void; written: Record<string, number>; objects: Record<string, number> };
}

const whenOf = (c: ComponentConfig | undefined) => (c?.config as { when?: WhenConfig } | undefined)?.when;

/** Where an exporter would put an object, for a dry run's lines. */
function destinationOf(c: ComponentConfig, key: string, records: number): string {
  // The config passed the exporter's schema: these keys, when present, are strings.
  const cfg = (c.config ?? {}) as { directory?: string; bucket?: string; container?: string; endpoint?: unknown };
  if (c.type === 'file') return `would write ${join(cfg.directory ?? './data/out', key)} (${records} records)`;
  if (c.type === 's3') return `would upload s3://${cfg.bucket ?? '?'}/${key} (${records} records)`;
  if (c.type === 'azureblob') return `would upload ${cfg.container ?? '?'}/${key} to Azure Blob (${records} records)`;
  if (typeof cfg.endpoint === 'string') return `would post ${records} records to ${cfg.endpoint}`;
  return `would send ${records} records`;
}

/** An exporter that writes nothing and reports, per batch, the object the real one would write. */
function dryRunExporter(c: ComponentConfig, o: NonNullable<BackfillConfigOptions['dryRun']>, objects: ObjectFormat): ComponentConfig {
  const real = c.factory as ExporterFactory;
  // The config holds the exporter's defaults: an object exporter always has a path.
  const path = ((c.config ?? {}) as { path?: string }).path ?? '';
  const factory: ExporterFactory = defineFactory({
    ...real,
    create: () => ({
      async consume(data: unknown) {
        const records = Array.isArray(data) ? (data as MeterRecord[]) : [];
        o.written[c.id] = (o.written[c.id] ?? 0) + records.length;
        if (!records.length) return;
        o.objects[c.id] = (o.objects[c.id] ?? 0) + 1;
        const key = records[0] && typeof records[0].meterTimeInMillis === 'number' ? (await objects.encode(records, { path })).key : '';
        o.write(`dry run: ${c.id} ${destinationOf(c, key, records.length)}\n`);
      },
    }),
  });
  return { ...c, factory };
}

/** Rewrites a loaded config for a backfill over `paths` (see the file comment). */
export function backfillConfig(config: ResolvedConfig, registry: ComponentRegistry, paths: string[], o: BackfillConfigOptions): ResolvedConfig {
  const batchSize = o.batchSize;
  const receiverId = backfillReceiverId(o.source);
  const factory = registry.get('receiver', o.source.receiver) as ReceiverFactory | undefined;
  if (!factory) throw new Error(`the ${o.source.receiver} receiver is not available`);
  const pipelines: PipelineConfig[] = [];
  for (const p of config.pipelines) {
    const at = p.types.indexOf('llm_calls');
    if (at < 0) continue;
    pipelines.push({ name: p.name, receivers: [receiverId], processors: p.processors.slice(at), exporters: p.exporters, types: p.types.slice(at) });
  }
  if (!pipelines.length) {
    throw new Error('no pipeline in the configuration carries llm_calls (receivers → span conversion → record mapping → exporters); nothing to backfill into');
  }
  if (o.exporters?.length) {
    const known = [...config.components.values()].filter((c) => c.kind === 'exporter').map((c) => c.id);
    for (const id of o.exporters) {
      const c = config.components.get(componentKey('exporter', id));
      if (!c) throw new Error(`--exporter ${id}: no such exporter in the configuration (exporters: ${known.join(', ')}); define it in a --config file`);
      const when = whenOf(c);
      if (!isActive(when)) throw new Error(`--exporter ${id}: it is ${dormancyText({ value: when!.value, activeFor: when!.in })}; name an active exporter`);
      for (const p of pipelines) {
        const type = p.types.at(-1)!;
        if (!consumesOf(c.factory as ExporterFactory).includes(type))
          throw new Error(`--exporter ${id}: it does not take ${type}, which pipeline ${p.name} delivers`);
      }
    }
    for (const p of pipelines) p.exporters = [...o.exporters];
  }
  if (o.dryRun) for (const p of pipelines) p.exporters = p.exporters.filter((id) => isActive(whenOf(config.components.get(componentKey('exporter', id)))));
  const components = new Map<string, ComponentConfig>();
  const keep = (kind: 'processor' | 'exporter', id: string) => {
    const c = config.components.get(componentKey(kind, id));
    if (c) components.set(componentKey(kind, id), c);
  };
  for (const p of pipelines) {
    p.processors.forEach((id) => keep('processor', id));
    p.exporters.forEach((id) => keep('exporter', id));
  }
  if (o.dryRun) for (const [k, c] of components) if (c.kind === 'exporter') components.set(k, dryRunExporter(c, o.dryRun, o.source.objects));
  const rxConfig = configOf(factory, { paths, http: null, ...(batchSize ? { batch_size: batchSize } : {}) });
  components.set(componentKey('receiver', receiverId), { kind: 'receiver', id: receiverId, type: o.source.receiver, factory, config: rxConfig });
  // Own state directory (write-ahead log, spools): a live spanmeter on the same data_dir is never
  // disturbed, and a re-run resumes whatever a failed backfill left in its spools.
  const service = {
    ...config.service,
    dataDir: o.dryRun ? mkdtempSync(join(tmpdir(), 'spanmeter-backfill-dry-run-')) : join(config.service.dataDir, 'backfill'),
  };
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

/**
 * One progress line: files done (read or skipped) of those found, LLM calls read and their rate,
 * bytes and ETA (by bytes).
 */
export function progressLine(s: Readonly<BackfillFilesSummary>, elapsedMs: number): string {
  const secs = Math.max(elapsedMs / 1000, 0.001);
  const rate = s.callsRead / secs;
  const frac = s.bytesTotal ? s.bytesDone / s.bytesTotal : 1;
  const eta = frac > 0 && frac < 1 ? (secs * (1 - frac)) / frac : 0;
  const skipped = s.skipped.length ? ` (${s.skipped.length} skipped)` : '';
  return `backfill: ${s.filesRead + s.skipped.length}/${s.filesTotal} files${skipped}, ${s.callsRead} LLM calls, ${Math.round(rate)} calls/s, ${fmtBytes(s.bytesDone)}/${fmtBytes(s.bytesTotal)} (${Math.floor(frac * 100)}%), ETA ${fmtDuration(eta)}`;
}

export interface BackfillOptions {
  source: BackfillSource;
  files: string[];
  paths: string[];
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  logger?: Logger;
  registry?: ComponentRegistry;
  env?: NodeJS.ProcessEnv;
  batchSize?: number;
  /** Send to these exporters instead of the pipelines' own. */
  exporters?: string[];
  /** Write nothing; print each object that would be written to `stdout`. */
  dryRun?: boolean;
  stdout?: NodeJS.WritableStream;
}

/** Runs a backfill to completion (flush included). Throws on an invalid configuration. */
export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const registry = o.registry ?? (await createRegistry());
  const { config, errors } = await loadConfig(o.files, registry, { env: o.env, keepUnused: !!o.exporters?.length });
  if (!config) throw new Error(`invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n  ${errors.map(formatError).join('\n  ')}`);
  const dry = o.dryRun
    ? { write: (l: string) => void (o.stdout ?? process.stdout).write(l), written: {} as Record<string, number>, objects: {} as Record<string, number> }
    : undefined;
  const bf = backfillConfig(config, registry, o.paths, { source: o.source, batchSize: o.batchSize, exporters: o.exporters, dryRun: dry });
  const logger = o.logger ?? createLogger(config.service.logLevel === 'info' ? 'warn' : config.service.logLevel, process.stderr);
  const service = new Service(bf, { logger, metricsAddress: null, processMetrics: false });
  const out = o.stderr ?? process.stderr;
  const started = Date.now();
  let last = started; // the first line after a while (or at the end), not at once
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
    const rx = service.graph.nodes.find((n) => n.kind === 'receiver' && n.id === backfillReceiverId(o.source))!.instance as unknown as FilesReceiver;
    rx.onProgress((s) => show(s));
    files = await rx.finished();
  } finally {
    await service.shutdown();
    if (dry) rmSync(bf.service.dataDir, { recursive: true, force: true });
  }
  show(files, true);
  const written: Record<string, number> = dry ? { ...dry.written } : {};
  if (!dry)
    for (const v of (await service.metrics.core.exporterSent.get()).values)
      written[String(v.labels.exporter)] = (written[String(v.labels.exporter)] ?? 0) + v.value;
  // Dormant exporters send nothing by design: they are not listed.
  for (const p of bf.pipelines) for (const e of p.exporters) if (isActive(whenOf(bf.components.get(componentKey('exporter', e))))) written[e] ??= 0;
  const activeWritten = Object.fromEntries(Object.entries(written).filter(([e]) => isActive(whenOf(bf.components.get(componentKey('exporter', e))))));
  return {
    files,
    written: activeWritten,
    ...(dry ? { objects: dry.objects } : {}),
    dryRun: !!dry,
    pipelines: bf.pipelines.map((p) => p.name),
    seconds: (Date.now() - started) / 1000,
    formats: o.source.formats,
  };
}

/** The human summary printed at the end. */
export function summaryText(r: BackfillResult): string {
  const f = r.files;
  const lines = [
    `backfill ${r.dryRun ? 'dry run ' : ''}finished in ${r.seconds.toFixed(1)} s (pipelines: ${r.pipelines.join(', ')})`,
    `  files: ${f.filesTotal} found: ${f.filesRead} read, ${f.skipped.length} skipped`,
    `  LLM calls read: ${f.callsRead}${f.invalidRecords ? `; invalid records skipped: ${f.invalidRecords}` : ''}`,
    ...Object.entries(r.written).map(([id, n]) =>
      r.dryRun
        ? `  records ${id} would write: ${n} (in ${r.objects?.[id] ?? 0} object${r.objects?.[id] === 1 ? '' : 's'}; nothing written)`
        : `  records written by ${id}: ${n}`,
    ),
  ];
  for (const s of f.skipped) lines.push(`  skipped ${s.path}: ${s.reason}`);
  for (const s of f.invalid) lines.push(`  invalid record in ${s.path}: ${s.reason}`);
  if (f.invalidRecords > f.invalid.length) lines.push(`  ... and ${f.invalidRecords - f.invalid.length} more invalid records`);
  if (f.skipped.length || f.invalidRecords) lines.push(`  backfill reads ${r.formats}`);
  return lines.join('\n') + '\n';
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The `backfill` subcommand. `configFiles` resolves `--config` the way `run` does
 * (default ./pipeline.yaml, else the embedded default). Exit code 0 when every file was read,
 * 1 when the configuration is invalid or any file was skipped.
 */
export function backfillCommand(configFiles: (given: string[] | undefined) => string[], source: BackfillSource): Command {
  return new Command('backfill')
    .description(`run the pipeline over files of past LLM calls, or directories of them: ${source.formats}`)
    .argument('<paths...>', 'files or directories')
    .addOption(new Option('-c, --config <file>', 'pipeline.yaml file (repeatable)').argParser(collect))
    .addOption(new Option('--batch-size <n>', 'LLM calls per hand-off').argParser((v) => Number.parseInt(v, 10)))
    .addOption(
      new Option('--exporter <name>', "send to this exporter instead of the pipelines' (repeatable; e.g. one defined in an extra --config file)").argParser(
        collect,
      ),
    )
    .option('--dry-run', 'write nothing; print each object that would be written, and the summary')
    .action(async (paths: string[], opts: { config?: string[]; batchSize?: number; exporter?: string[]; dryRun?: boolean }) => {
      let result: BackfillResult;
      try {
        result = await runBackfill({
          source,
          files: configFiles(opts.config),
          paths,
          batchSize: opts.batchSize,
          exporters: opts.exporter,
          dryRun: opts.dryRun,
        });
      } catch (e) {
        process.stderr.write(`spanmeter backfill: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stderr.write(summaryText(result));
      process.exitCode = result.files.skipped.length ? 1 : 0;
    });
}

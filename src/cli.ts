#!/usr/bin/env node
/**
 * The `spanmeter` command line: run, validate, components, status, backfill, inspect, report, and
 * the integrations' own commands (integrations/index.ts).
 */
// First: V8 flags that must hold before the pipeline's code runs (see v8-tuning.ts).
import './v8-tuning.js';
import { configKeys } from './config/docs.js';
import cluster from 'node:cluster';
import { existsSync, unwatchFile, watchFile } from 'node:fs';
import { DirLockedError } from './storage/dir-lock.js';
import { adoptStranded, type Adoption } from './adopt.js';
import { attachWorker, reportReady, runPrimary, workerConfig } from './cluster.js';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { componentKey, formatError, loadConfig, type PipelineConfig, type ResolvedConfig } from './config/config.js';
import { dormancyText, isActive, type WhenConfig } from './output/when.js';
import type { ComponentWords } from './telemetry/status-words.js';
import type { Logger } from 'pino';
import { createRegistry } from './registry.js';
import { Service } from './service.js';
import { createLogger, routeProcessWarnings } from './telemetry/logger.js';
import { VERSION } from './version.js';
import { consumesOf, producesOf } from './component.js';
import { backfillCommand } from './backfill.js';
import { inspectCommand } from './inspect.js';
import { reportCommand } from './report/command.js';
import { backfillSource, integrationCommands, reportFormat } from '../integrations/index.js';

/** The embedded default pipeline.yaml shipped at the package root. */
export const EMBEDDED_CONFIG = fileURLToPath(new URL('../../pipeline.yaml', import.meta.url));

function configFiles(given: string[] | undefined): string[] {
  if (given && given.length) return given;
  return [existsSync('pipeline.yaml') ? 'pipeline.yaml' : EMBEDDED_CONFIG];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('spanmeter')
    .description('Meters LLM usage from OpenTelemetry spans into meter records, durably.')
    .version(VERSION, '-v, --version')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `
Config files: --config may be given several times; files merge in order (maps merge, lists are
replaced). Without --config, ./pipeline.yaml is used if present, else the embedded default.
Values may reference the environment: \${env:VAR} or \${env:VAR:-default}.`,
    );
  // Added with program.command(): they inherit the program's settings (help after an error).
  runCommand(program);
  validateCommand(program);
  componentsCommand(program);
  statusCommand(program);
  program.addCommand(backfillCommand(configFiles, backfillSource));
  program.addCommand(inspectCommand());
  program.addCommand(reportCommand(configFiles, reportFormat));
  for (const command of integrationCommands(configFiles)) program.addCommand(command);
  return program;
}

interface RunOptions {
  config?: string[];
  watch?: boolean;
  workers?: number;
}

function runCommand(program: Command): Command {
  return program
    .command('run')
    .description('run the collector')
    .addOption(new Option('-c, --config <file>', 'pipeline.yaml file (repeatable)').argParser(collect))
    .option('-w, --watch', 'reload when a config file changes (as on SIGHUP)')
    .addOption(
      new Option('--workers <n>', 'worker processes sharing the ports, each with its own log and spool').env('SPANMETER_WORKERS').argParser((v) => Number(v)),
    )
    .action(runCollector);
}

/** `spanmeter run`: one process, the primary of `--workers N`, or one of its workers. */
async function runCollector(opts: RunOptions): Promise<void> {
  const registry = await createRegistry();
  const files = configFiles(opts.config);
  const loaded = await loadConfig(files, registry);
  const { errors } = loaded;
  let config = loaded.config;
  if (!config) {
    process.stderr.write(`spanmeter: invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n`);
    for (const e of errors) process.stderr.write(`  ${formatError(e)}\n`);
    process.exitCode = 1;
    return;
  }
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    process.stderr.write(`spanmeter: --workers must be an integer from 1 to 64\n`);
    process.exitCode = 1;
    return;
  }
  const workerIndex = cluster.isWorker ? Number(process.env.SPANMETER_WORKER_INDEX ?? 0) : undefined;
  const logger = createLogger(config.service.logLevel).child(workerIndex === undefined ? {} : { worker: workerIndex });
  routeProcessWarnings(logger);
  if (workers > 1 && cluster.isPrimary) {
    process.exitCode = await runPrimary(config, workers, logger, process.argv.slice(2));
    logger.flush();
    return;
  }
  if (workerIndex !== undefined) config = workerConfig(config, workerIndex);
  const service = new Service(config, { logger, recordSeries: workerIndex !== undefined ? true : undefined });
  const control = new ServiceControl(service, files, logger, workerIndex);
  control.handleSignals(!!opts.watch);
  await control.start(config);
}

/** Stops, reloads and starts one running service (a single process or a worker) on signals. */
class ServiceControl {
  /** A single process owns the root of the data directory: it drains worker-<i> folders left by a cluster. */
  private adoption: Adoption | undefined;
  private stopping = false;

  constructor(
    private readonly service: Service,
    private readonly files: string[],
    private readonly logger: Logger,
    private readonly workerIndex: number | undefined,
  ) {}

  stop(reason: string, code: number): void {
    const { logger } = this;
    if (this.stopping && this.workerIndex !== undefined) return; // workers obey the primary's one SIGTERM
    if (this.stopping) {
      logger.warn({ reason }, 'second signal: exiting now');
      logger.flush();
      process.exit(code || 1);
    }
    this.stopping = true;
    logger.info({ reason }, 'stopping');
    Promise.resolve(this.adoption?.stop())
      .then(() => this.service.shutdown())
      .then(
        () => (process.exitCode = code),
        (err: unknown) => {
          logger.error({ err }, 'shutdown finished with errors');
          process.exitCode = 1;
        },
      )
      .finally(() => {
        for (const f of this.files) unwatchFile(f);
        logger.flush();
        // Anything still holding the event loop after a clean shutdown is a bug; do not hang.
        setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
      });
  }

  /**
   * Reload on SIGHUP (and on file changes with --watch): validate first; keep the running
   * configuration, and log every error, when the new one is invalid.
   */
  async reload(why: string): Promise<void> {
    if (this.stopping) return;
    const { logger } = this;
    const fresh = await createRegistry();
    const next = await loadConfig(this.files, fresh);
    if (!next.config) {
      logger.error(
        { reason: why, errors: next.errors.map(formatError) },
        `new configuration is invalid (${next.errors.length} errors); keeping the running one`,
      );
      return;
    }
    logger.info({ reason: why }, 'reloading configuration');
    await this.service.reload(next.config).catch((err: unknown) => logger.error({ err }, 'configuration reload failed'));
  }

  handleSignals(watch: boolean): void {
    process.on('SIGHUP', () => void this.reload('SIGHUP'));
    if (watch) {
      let timer: NodeJS.Timeout | undefined;
      for (const f of this.files) {
        watchFile(f, { interval: 500 }, () => {
          clearTimeout(timer);
          timer = setTimeout(() => void this.reload(`${f} changed`), 300);
        });
      }
    }
    process.on('SIGTERM', () => this.stop('SIGTERM', 0));
    // A terminal's Ctrl-C reaches the whole process group; workers wait for the primary's SIGTERM.
    process.on('SIGINT', () => (this.workerIndex === undefined ? this.stop('SIGINT', 0) : undefined));
    this.service.onFatal(() => this.stop('fatal error', 1));
  }

  /** Starts the service; a worker then reports to the primary, a single process adopts stranded data. */
  async start(config: ResolvedConfig): Promise<void> {
    const { logger } = this;
    try {
      await this.service.start();
      if (this.workerIndex !== undefined) {
        attachWorker(this.service);
        reportReady();
      } else if (config.service.durability.enabled && !this.stopping) this.adoption = adoptStranded(config, 1, logger);
    } catch (e) {
      logger.fatal({ err: e }, 'spanmeter failed to start');
      if (e instanceof DirLockedError) process.stderr.write(`spanmeter: ${e.message}\n`);
      logger.flush();
      process.exitCode = 1;
      setTimeout(() => process.exit(1), 100).unref();
    }
  }
}

function validateCommand(program: Command): Command {
  return program
    .command('validate')
    .description('check configuration files and report every error; exit 0 when valid, 1 otherwise')
    .addOption(new Option('-c, --config <file>', 'pipeline.yaml file (repeatable)').argParser(collect))
    .action(async (opts: { config?: string[] }) => {
      const registry = await createRegistry();
      const files = configFiles(opts.config);
      const { config, errors } = await loadConfig(files, registry);
      if (!config) {
        process.stderr.write(`${files.join(', ')}: ${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
        for (const e of errors) process.stderr.write(`${formatError(e)}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${files.join(', ')}: valid (${config.pipelines.length} pipeline${config.pipelines.length === 1 ? '' : 's'})\n`);
      for (const p of config.pipelines) process.stdout.write(`  ${describePipeline(config, p)}\n`);
    });
}

function componentsCommand(program: Command): Command {
  return program
    .command('components')
    .description('list every registered component with its data types and config keys')
    .option('--json', 'print JSON')
    .addOption(new Option('-c, --config <file>', 'also load the plugins named in this config (repeatable)').argParser(collect))
    .action(async (opts: { json?: boolean; config?: string[] }) => {
      const rows = await componentRows(opts.config);
      if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(formatComponents(rows));
    });
}

type ComponentRow = Awaited<ReturnType<typeof componentRows>>[number];

/** Every registered component (and the plugins named in `config`, when given), for `spanmeter components`. */
async function componentRows(config: string[] | undefined) {
  const registry = await createRegistry();
  if (config) {
    const { errors } = await loadConfig(config, registry);
    for (const e of errors.filter((x) => x.message.startsWith('cannot load plugin'))) process.stderr.write(`${formatError(e)}\n`);
  }
  return registry.list().map(({ factory: f, origin }) => ({
    kind: f.kind,
    type: f.type,
    stability: f.stability,
    consumes: f.kind === 'receiver' ? null : consumesOf(f).join('|'),
    produces: f.kind === 'exporter' ? null : f.kind === 'receiver' ? producesOf(f).join('|') : f.produces,
    description: f.description,
    origin,
    keys: configKeys(f.configSchema),
  }));
}

function formatComponents(rows: ComponentRow[]): string {
  let out = '';
  for (const kind of ['receiver', 'processor', 'exporter']) {
    out += `${kind}s:\n`;
    for (const r of rows.filter((x) => x.kind === kind)) {
      const flow = [r.consumes, r.produces].filter(Boolean).join(' → ');
      out += `  ${r.type} (${r.stability}; ${flow}${r.origin.startsWith('plugin') ? `; ${r.origin}` : ''})\n    ${r.description}\n`;
      for (const k of r.keys)
        out += `      ${k.key}: ${k.type}${k.default !== undefined ? ` = ${k.default}` : k.required ? ' (required)' : ''}${k.description ? `  ${k.description}` : ''}\n`;
    }
  }
  return out;
}

function statusCommand(program: Command): Command {
  return program
    .command('status')
    .description('show write-ahead log and spool sizes, the oldest unsent batch and per-exporter backlog of a running spanmeter')
    .option(
      '-a, --address <host:port>',
      'admin address of the running collector (default: SPANMETER_METRICS_ADDRESS, else the one in --config, else 127.0.0.1:8888)',
    )
    .addOption(new Option('-c, --config <file>', 'read the admin address from this pipeline.yaml (repeatable)').argParser(collect))
    .option('--json', 'print JSON')
    .action(async (opts: { address?: string; config?: string[]; json?: boolean }) => {
      const where = await statusAddress(opts);
      if (!where.address) {
        process.stderr.write(`spanmeter status: ${where.error}\n`);
        process.exitCode = 1;
        return;
      }
      let body: Record<string, unknown>;
      try {
        const res = await fetch(`http://${where.address}/status`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        body = (await res.json()) as Record<string, unknown>;
      } catch (e) {
        process.stderr.write(
          `spanmeter status: cannot reach the admin endpoint at http://${where.address}/status (address from ${where.from}): ${(e as Error).message}\n`,
        );
        process.exitCode = 1;
        return;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatStatus(body));
    });
}

/**
 * A pipeline's wiring in words: receivers, the processor chain, then the exporters, which all
 * get every batch (a fan-out, not a chain), each marked dormant when its `when` does not match.
 */
export function describePipeline(config: ResolvedConfig, p: PipelineConfig): string {
  const exporters = p.exporters.map((id) => {
    const when = (config.components.get(componentKey('exporter', id))?.config as { when?: WhenConfig } | undefined)?.when;
    return isActive(when) ? id : `${id} (${dormancyText({ value: when!.value, activeFor: when!.in })})`;
  });
  const active = p.exporters.filter((id) =>
    isActive((config.components.get(componentKey('exporter', id))?.config as { when?: WhenConfig } | undefined)?.when),
  ).length;
  const from = p.receivers.length === 1 ? p.receivers[0]! : `[${p.receivers.join(', ')}]`;
  const to =
    exporters.length === 1
      ? exporters[0]!
      : `${exporters.length} exporters, each gets every batch (${active} active, ${exporters.length - active} dormant):\n${exporters.map((e) => `      - ${e}`).join('\n')}`;
  return `${p.name}: ${[from, ...p.processors].join(' → ')} → ${to}`;
}

const mib = (n: unknown) => `${(Number(n ?? 0) / 1024 / 1024).toFixed(1)} MiB`;

/** One process's (or one worker's) status, indented. */
function formatOne(s: Record<string, unknown>, indent: string): string[] {
  const lines: string[] = [];
  const wal = (s.wal as Record<string, unknown>[] | undefined) ?? [];
  for (const w of wal) {
    const backlog = Number(w.lastSeq) - Number(w.forwardedSeq);
    const unsafe = Number(w.lastSeq) - Number(w.checkpoint);
    lines.push(
      `${indent}pipeline ${String(w.pipeline)}: write-ahead log ${mib(w.bytes)}, ${backlog} record(s) waiting to be processed, ${unsafe} not yet in a spool or file`,
    );
  }
  const words = (s.words as Record<string, ComponentWords> | undefined) ?? {};
  for (const [id, w] of Object.entries(words)) {
    const parts: string[] = [];
    if (w.state && w.state !== 'started') parts.push(w.state);
    if (w.openBatch) parts.push(`open batch: ${w.openBatch}`);
    if (w.lastObject) parts.push(`last object: ${w.lastObject}`);
    if (w.delivery) parts.push(`delivery: ${w.delivery}`);
    if (w.calls) parts.push(`read: ${w.calls}`);
    if (w.unbillable) parts.push(`not billed: ${w.unbillable}`);
    if (!parts.length) continue;
    lines.push(`${indent}${id}:`);
    for (const p of parts) lines.push(`${indent}  ${p}`);
  }
  return lines;
}

/** Human-readable `spanmeter status`: one process, or the primary of `--workers N` with each worker. */
export function formatStatus(s: Record<string, unknown>): string {
  // A worker that does not answer is reported with its pid (null when unknown) and an error message.
  const workers = s.workers as (Record<string, unknown> & { pid?: number | null; instanceId?: string; error?: string })[] | undefined;
  const lines: string[] = [
    `spanmeter ${String(s.version)} (instance ${String(s.instanceId)}): ${String(s.state)}${workers ? `, ${workers.length} worker${workers.length === 1 ? '' : 's'}` : ''}`,
  ];
  const d = s.durability as { enabled?: boolean; usedBytes?: number; maxDiskBytes?: number } | undefined;
  if (d && d.enabled === false) lines.push('durability: off (acknowledgements mean accepted in memory)');
  else if (d) lines.push(`disk budget: ${mib(d.usedBytes)} used of ${d.maxDiskBytes ? mib(d.maxDiskBytes) : 'unlimited'}${workers ? ' (all workers)' : ''}`);
  if (!workers) lines.push(...formatOne(s, ''));
  else
    for (const w of workers) {
      lines.push(
        `worker ${String(w.worker)} (pid ${w.pid ?? '?'}${w.instanceId ? `, instance ${w.instanceId}` : ''}): ${String(w.state)}${w.error ? ` (${w.error})` : ''}`,
      );
      lines.push(...formatOne(w, '  '));
    }
  return `${lines.join('\n')}\n`;
}

/**
 * The admin address `spanmeter status` asks: --address, else SPANMETER_METRICS_ADDRESS, else the
 * address in --config's service.telemetry.metrics, else the default. An all-interfaces bind
 * (0.0.0.0, [::], :8888) is asked on the loopback.
 */
export async function statusAddress(
  opts: { address?: string; config?: string[] },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ address?: string; from: string; error?: string }> {
  const local = (a: string) => a.replace(/^(0\.0\.0\.0|\[::\]|)(?=:\d+$)/, '127.0.0.1');
  if (opts.address) return { address: local(opts.address), from: '--address' };
  if (env.SPANMETER_METRICS_ADDRESS) {
    if (env.SPANMETER_METRICS_ADDRESS === 'off')
      return { from: 'SPANMETER_METRICS_ADDRESS', error: 'SPANMETER_METRICS_ADDRESS is "off": the admin endpoint is disabled' };
    return { address: local(env.SPANMETER_METRICS_ADDRESS), from: 'SPANMETER_METRICS_ADDRESS' };
  }
  if (opts.config?.length) {
    const { config, errors } = await loadConfig(opts.config, await createRegistry(), { env });
    if (!config)
      return {
        from: opts.config.join(', '),
        error: `${opts.config.join(', ')}: invalid configuration:\n${errors.map((e) => `  ${formatError(e)}`).join('\n')}`,
      };
    if (!config.service.metricsAddress)
      return { from: opts.config.join(', '), error: `${opts.config.join(', ')}: service.telemetry.metrics.address is "off": the admin endpoint is disabled` };
    return { address: local(config.service.metricsAddress), from: opts.config.join(', ') };
  }
  return { address: '127.0.0.1:8888', from: 'the default' };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      process.stderr.write(`spanmeter: ${(e as Error).message}\n`);
      process.exitCode = 1;
    });
}

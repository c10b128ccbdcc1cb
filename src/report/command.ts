/**
 * `spanmeter report` and `spanmeter reconcile`: read back what an exporter wrote (its destination
 * from the pipeline configuration, or a directory), for a time range.
 */
import { writeFileSync } from 'node:fs';
import { configOf } from '../config/component-config.js';
import { Command, Option } from 'commander';
import type { ExporterFactory } from '../component.js';
import { formatError, loadConfig, type ResolvedConfig } from '../config/config.js';
import { suggest } from '../config/ajv.js';
import { parseDuration } from '../config/duration.js';
import { joinKey } from '../output/encode.js';
import { isActive, type WhenConfig } from '../output/when.js';
import { createRegistry } from '../registry.js';
import { DirectoryReader, type ObjectReader, type RecordFormat } from './objects.js';
import { scanRecords, type ScanProgress } from './scan.js';
import { GROUP_FIELDS, UsageTable, usageCsv, usageJson, usageTable, type GroupField, type UsageMeters } from './usage.js';
import { MeteredCalls, reconcile, reconcileText, type ReferenceLog } from './reconcile.js';

/**
 * What the commands need to know of the records they read back, supplied by the integration that
 * maps calls to records: how objects hold them, and the meters a usage report sums.
 */
export interface ReportFormat {
  records: RecordFormat;
  meters: UsageMeters;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Earliest and latest times a range may name: older is a typo (epoch 0), later is not yet. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const FUTURE_MS = 366 * 86_400_000;

/** `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.mmm]][Z|±HH:MM]` (UTC without a zone), or `YYYY-MM` (its first day). */
export function parseTime(s: string, what: string, now = Date.now()): number {
  const m = /^(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(s.trim());
  if (!m) throw new Error(`${what}: "${s}" is not a date (write 2026-11-01, 2026-11-01T08:00 or 2026-11-01T08:00:00Z; times without a zone are UTC)`);
  const iso = `${m[1]}-${m[2]}-${m[3] ?? '01'}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}${m[7] ?? ''}${m[8] ?? 'Z'}`;
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) throw new Error(`${what}: "${s}" is not a valid date`);
  if (t < EARLIEST_MS || t > now + FUTURE_MS)
    throw new Error(`${what}: ${new Date(t).toISOString()} is outside the years metering can have (2000 to a year from now)`);
  return t;
}

export interface RangeOptions {
  from?: string;
  to?: string;
  month?: string;
}

/** [from, to): `--month YYYY-MM`, or `--from`/`--to` (default: the start of this month (UTC) to now). */
export function parseRange(o: RangeOptions, now = Date.now()): { fromMs: number; toMs: number } {
  if (o.month) {
    if (o.from || o.to) throw new Error('--month and --from/--to cannot be used together');
    if (!/^\d{4}-\d{2}$/.test(o.month)) throw new Error(`--month: "${o.month}" is not YYYY-MM`);
    const fromMs = parseTime(o.month, '--month', now);
    const d = new Date(fromMs);
    return { fromMs, toMs: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
  }
  const d = new Date(now);
  const fromMs = o.from ? parseTime(o.from, '--from', now) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const toMs = o.to ? parseTime(o.to, '--to', now) : now;
  if (toMs <= fromMs) throw new Error(`the range is empty: --to (${new Date(toMs).toISOString()}) is not after --from (${new Date(fromMs).toISOString()})`);
  return { fromMs, toMs };
}

export interface SourceOptions {
  config?: string[];
  exporter?: string;
  dir?: string;
  path?: string;
}

/** The exporters in a configuration that can be read back. */
function readableExporters(config: ResolvedConfig) {
  return [...config.components.values()].filter((c) => c.kind === 'exporter' && typeof (c.factory as ExporterFactory).objectReader === 'function');
}

/**
 * The objects to read: `--dir` (a file exporter's directory) or an exporter of the configuration
 * (`--exporter ID`, needed when it has several that write objects). `--path` replaces the prefix.
 */
export async function openReader(
  o: SourceOptions,
  configFiles: (given: string[] | undefined) => string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ reader: ObjectReader; config?: ResolvedConfig }> {
  if (o.dir) {
    if (o.exporter) throw new Error('--dir and --exporter cannot be used together (--dir reads a directory as the file exporter writes it)');
    return { reader: new DirectoryReader(o.dir, joinKey(o.path ?? (await fileExporterPath()))) };
  }
  const registry = await createRegistry();
  const files = configFiles(o.config);
  const { config, errors } = await loadConfig(files, registry, { env });
  if (!config) throw new Error(`invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n  ${errors.map(formatError).join('\n  ')}`);
  const readable = readableExporters(config);
  const ids = readable.map((c) => c.id);
  // Without --exporter: the one that writes objects, or the one active (`when:`) among several.
  const active = readable.filter((c) => isActive((c.config as { when?: WhenConfig }).when));
  let chosen;
  if (o.exporter) {
    chosen = readable.find((c) => c.id === o.exporter);
    if (!chosen) {
      const hint = suggest(o.exporter, ids);
      throw new Error(
        `--exporter ${o.exporter}: no such exporter writing objects in ${files.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}; there: ${ids.join(', ') || 'none'}`,
      );
    }
  } else if (readable.length === 1) chosen = readable[0]!;
  else if (active.length === 1) chosen = active[0]!;
  else if (!readable.length)
    throw new Error(`${files.join(', ')}: no exporter that writes objects (file, s3, azureblob) is in a pipeline; use --dir for a directory`);
  else
    throw new Error(
      `${files.join(', ')} has several exporters that write objects (${(active.length ? active : readable).map((c) => c.id).join(', ')}): choose one with --exporter`,
    );
  const c = { ...(chosen.config as Record<string, unknown>) };
  if (o.path !== undefined) c.path = o.path;
  const reader = await (chosen.factory as ExporterFactory).objectReader!(c);
  return { reader, config };
}

/** The file exporter's default `path`: where `--dir` looks without `--path`. */
async function fileExporterPath(): Promise<string> {
  const file = (await createRegistry()).get('exporter', 'file');
  return (file ? (configOf(file) as { path?: string }) : undefined)?.path ?? '';
}

function progressReporter(stderr: NodeJS.WritableStream & { isTTY?: boolean }, quiet: boolean, what: string) {
  const started = Date.now();
  let last = 0;
  const line = (p: Readonly<ScanProgress>) =>
    `${what}: ${p.partitionsListed}/${p.partitions} hours listed, ${p.objectsRead}/${p.objectsListed} objects, ${p.records.toLocaleString('en-US')} records, ${(p.bytesRead / 1048576).toFixed(1)} MiB, ${Math.round(p.records / Math.max(0.001, (Date.now() - started) / 1000)).toLocaleString('en-US')} records/s`;
  return {
    onProgress: (p: Readonly<ScanProgress>) => {
      if (quiet) return;
      const now = Date.now();
      if (now - last < (stderr.isTTY ? 200 : 5_000)) return;
      last = now;
      stderr.write(stderr.isTTY ? `\r${line(p)}\x1b[K` : `${line(p)}\n`);
    },
    done: (p: Readonly<ScanProgress>) => {
      if (!quiet) stderr.write(`${stderr.isTTY ? '\r' : ''}${line(p)}, ${((Date.now() - started) / 1000).toFixed(1)} s${stderr.isTTY ? '\x1b[K' : ''}\n`);
      for (const u of p.unreadable.slice(0, 20)) stderr.write(`${what}: cannot read ${u.key}: ${u.reason}\n`);
      if (p.unreadable.length > 20) stderr.write(`${what}: … and ${p.unreadable.length - 20} more unreadable objects\n`);
    },
  };
}

const sourceOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('-c, --config <file>', "pipeline.yaml file (repeatable); the exporter's destination is read from it").argParser(collect))
    .option('-e, --exporter <id>', 'the exporter whose objects to read (needed when several write objects)')
    .option('--dir <directory>', 'read a directory laid out as the file exporter writes it, without a configuration')
    .option('--path <prefix>', "key prefix the objects are under (default: the exporter's path)")
    .option('--month <YYYY-MM>', 'the calendar month (UTC)')
    .option('--from <time>', 'start of the range, inclusive (default: the start of this month, UTC)')
    .option('--to <time>', 'end of the range, exclusive (default: now)')
    .option('--slack <duration>', 'also list objects whose key is this much before --from (a batch holds records later than its key)', '1h')
    .addOption(new Option('--concurrency <n>', 'objects read at the same time').default(4).argParser((v) => Number(v)))
    .option('-q, --quiet', 'no progress on stderr');

interface CommonOpts extends SourceOptions, RangeOptions {
  slack: string;
  concurrency: number;
  quiet?: boolean;
}

function checkCommon(o: CommonOpts): number {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64) throw new Error('--concurrency must be an integer from 1 to 64');
  return parseDuration(o.slack);
}

export interface ReportIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

export function reportCommand(configFiles: (given: string[] | undefined) => string[], format: ReportFormat, io: ReportIo = {}): Command {
  const cmd = new Command('report').description('usage per day × team × key × model from the objects an exporter wrote, for a time range');
  sourceOptions(cmd)
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .option('--by <fields>', `group by these of ${GROUP_FIELDS.join(',')}`, GROUP_FIELDS.join(','))
    .action(async (o: CommonOpts & { format: 'table' | 'csv' | 'json'; by: string }) => {
      const stdout = io.stdout ?? process.stdout;
      const stderr = io.stderr ?? process.stderr;
      try {
        const slackMs = checkCommon(o);
        const by = o.by
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const f of by)
          if (!(GROUP_FIELDS as readonly string[]).includes(f)) throw new Error(`--by: unknown field "${f}" (fields: ${GROUP_FIELDS.join(', ')})`);
        const { fromMs, toMs } = parseRange(o);
        const { reader } = await openReader(o, configFiles, io.env);
        const table = new UsageTable(format.meters, by as GroupField[]);
        const progress = progressReporter(stderr, !!o.quiet, 'report');
        try {
          const p = await scanRecords(
            reader,
            format.records,
            { fromMs, toMs, slackMs, concurrency: o.concurrency, onProgress: progress.onProgress },
            (records) => table.add(records),
          );
          progress.done(p);
          const rows = table.result();
          if (o.format === 'csv') stdout.write(usageCsv(rows));
          else if (o.format === 'json')
            stdout.write(
              usageJson(rows, {
                source: reader.label,
                from: new Date(fromMs).toISOString(),
                to: new Date(toMs).toISOString(),
                objects: p.objectsRead,
                records: p.records,
                unreadableObjects: p.unreadable,
              }),
            );
          else stdout.write(`${reader.label}, ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()}\n${usageTable(rows)}`);
          if (p.objectsListed === 0) stderr.write(`report: no objects under ${reader.label} for this range (check the exporter, --path and --slack)\n`);
          if (p.unreadable.length) {
            stderr.write(`report: ${p.unreadable.length} object(s) could not be read; the figures leave them out\n`);
            process.exitCode = 1;
          }
        } finally {
          await reader.close?.();
        }
      } catch (e) {
        stderr.write(`spanmeter report: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
  return cmd;
}

/** Opens the reference log from the command's options and the loaded configuration (if any). */
export type ReferenceOpener = (
  opts: Record<string, unknown>,
  config: ResolvedConfig | undefined,
  env: NodeJS.ProcessEnv,
) => Promise<ReferenceLog> | ReferenceLog;

/**
 * `spanmeter reconcile`: the files against a reference log of the same calls. `addOptions` adds the
 * reference's own options; `open` opens it. Exit 0 when they agree within the tolerances, 1 when
 * they differ, 2 when the comparison could not be made.
 */
export function reconcileCommand(
  configFiles: (given: string[] | undefined) => string[],
  format: ReportFormat,
  addOptions: (cmd: Command) => Command,
  open: ReferenceOpener,
  io: ReportIo = {},
): Command {
  const cmd = new Command('reconcile').description("compare the calls in the objects an exporter wrote with the gateway's own log of them, by call id");
  addOptions(sourceOptions(cmd))
    .option('--edge <duration>', 'read both sides this much beyond the range, so that a call near a bound matches', '5m')
    .option(
      '--settle <duration>',
      'calls that started less than this before now are not settled: their differences are expected (spend log and spool lag)',
      '15m',
    )
    .addOption(new Option('--token-tolerance <n>', 'tokens a call may differ by (prompt and completion each)').default(0).argParser((v) => Number(v)))
    .addOption(new Option('--max-missing <n>', 'calls missing from the files still counted as agreement').default(0).argParser((v) => Number(v)))
    .addOption(new Option('--max-extra <n>', 'calls only in the files still counted as agreement').default(0).argParser((v) => Number(v)))
    .addOption(
      new Option(
        '--exclude-call-type <type>',
        "reference calls of this type are not expected in the files (repeatable), e.g. a gateway's tool calls",
      ).argParser(collect),
    )
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addOption(new Option('--max-ids <n>', 'calls listed per kind of difference in text output').default(50).argParser((v) => Number(v)))
    .option('--ids-file <file>', 'write the ids of the calls missing from the files there, one per line (for a backfill)')
    .action(
      async (
        o: CommonOpts & {
          edge: string;
          settle: string;
          tokenTolerance: number;
          maxMissing: number;
          maxExtra: number;
          format: 'text' | 'json';
          maxIds: number;
          idsFile?: string;
          excludeCallType?: string[];
        },
      ) => {
        const stdout = io.stdout ?? process.stdout;
        const stderr = io.stderr ?? process.stderr;
        const env = io.env ?? process.env;
        let reference: ReferenceLog | undefined;
        let reader: ObjectReader | undefined;
        try {
          const slackMs = checkCommon(o);
          for (const [k, v] of [
            ['--token-tolerance', o.tokenTolerance],
            ['--max-missing', o.maxMissing],
            ['--max-extra', o.maxExtra],
            ['--max-ids', o.maxIds],
          ] as const) {
            if (!Number.isFinite(v) || v < 0) throw new Error(`${k} must be a number ≥ 0`);
          }
          const edgeMs = parseDuration(o.edge);
          const settleMs = parseDuration(o.settle);
          const { fromMs, toMs } = parseRange(o);
          const opened = await openReader(o, configFiles, env);
          reader = opened.reader;
          reference = await open(o as unknown as Record<string, unknown>, opened.config, env);
          const metered = new MeteredCalls(format.meters);
          const progress = progressReporter(stderr, !!o.quiet, 'reconcile');
          const p = await scanRecords(
            reader,
            format.records,
            { fromMs: fromMs - edgeMs, toMs: toMs + edgeMs, slackMs, concurrency: o.concurrency, onProgress: progress.onProgress },
            (records) => metered.add(records),
          );
          progress.done(p);
          if (p.unreadable.length) throw new Error(`${p.unreadable.length} object(s) could not be read; a reconciliation without them would be wrong`);
          const result = await reconcile(metered, reference, fromMs - edgeMs, toMs + edgeMs, {
            fromMs,
            toMs,
            settledBeforeMs: Date.now() - settleMs,
            tokenTolerance: o.tokenTolerance,
            maxMissing: o.maxMissing,
            maxExtra: o.maxExtra,
            excludeCallTypes: o.excludeCallType,
          });
          if (o.idsFile) writeFileSync(o.idsFile, result.missingFromFiles.map((c) => `${c.id}\n`).join(''));
          if (o.format === 'json') stdout.write(`${JSON.stringify({ files: reader.label, reference: reference.label, ...result }, null, 2)}\n`);
          else stdout.write(reconcileText(result, reference.label, reader.label, o.maxIds));
          process.exitCode = result.agree ? 0 : 1;
        } catch (e) {
          stderr.write(`spanmeter reconcile: ${(e as Error).message}\n`);
          process.exitCode = 2;
        } finally {
          await reader?.close?.();
          await reference?.close?.();
        }
      },
    );
  return cmd;
}

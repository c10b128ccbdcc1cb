/**
 * `spanmeter inspect FILE...`: what the collector would make of captured requests, without running
 * it. OTLP trace requests (JSON or protobuf, gzip or not) go to every processor that consumes spans
 * and can explain itself (`Inspectable`): per span, how it was read and the record it yields, or why
 * not. Other JSON documents (a gateway's log payloads) go to receivers that read such documents.
 */
import { readFileSync } from 'node:fs';
import { standaloneSettings } from './standalone.js';
import { gunzipSync } from 'node:zlib';
import { Command, Option } from 'commander';
import type { CreateSettings, DocumentInspector, Inspectable, InspectEntry, ReceiverFactory } from './component.js';
import { configOf } from './config/component-config.js';
import { consumesOf } from './component.js';
import type { SpanBatch } from './data/span.js';
import { decodeOtlpJson, decodeOtlpProto } from './otlp/index.js';
import { createRegistry, type ComponentRegistry } from './registry.js';

export interface InspectedFile {
  file: string;
  format: string;
  entries: InspectEntry[];
  error?: string;
}

function settings<C>(id: string, config: C): CreateSettings<C> {
  return standaloneSettings(id, config, { pipeline: 'inspect' });
}

/** The span processors that can explain themselves, created with their default config. */
function spanInspectors(registry: ComponentRegistry): { id: string; inspect: Inspectable['inspect'] }[] {
  const out: { id: string; inspect: Inspectable['inspect'] }[] = [];
  for (const { factory } of registry.list()) {
    if (factory.kind !== 'processor' || !consumesOf(factory).includes('spans')) continue;
    const f = factory;
    const instance = f.create(settings(f.type, configOf(f)), { consume: async () => {} }) as Partial<Inspectable>;
    if (typeof instance.inspect === 'function') out.push({ id: f.type, inspect: instance.inspect.bind(instance) });
  }
  return out;
}

function documentInspectors(registry: ComponentRegistry): { id: string; inspect: DocumentInspector }[] {
  const out: { id: string; inspect: DocumentInspector }[] = [];
  for (const { factory } of registry.list()) {
    if (factory.kind !== 'receiver') continue;
    const f = factory as ReceiverFactory & { inspectDocument?: DocumentInspector };
    if (typeof f.inspectDocument === 'function') out.push({ id: f.type, inspect: f.inspectDocument });
  }
  return out;
}

/** Reads one file: OTLP/JSON or protobuf traces, OTLP logs, or another JSON document. */
export function inspectFile(file: string, registry: ComponentRegistry): InspectedFile {
  let bytes: Buffer = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const text = bytes.toString('utf8').trimStart();
  let batch: SpanBatch;
  let format = 'OTLP/protobuf traces';
  if (text.startsWith('{') || text.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      // NDJSON: one document a line, for the document readers.
      doc = undefined;
      if (!text.includes('\n')) return { file, format: 'JSON', entries: [], error: `not JSON: ${(e as Error).message}` };
    }
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'resourceSpans' in doc) {
      format = 'OTLP/JSON traces';
      batch = decodeOtlpJson(bytes);
    } else if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'resourceLogs' in doc) {
      return {
        file,
        format: 'OTLP/JSON logs',
        entries: [{ item: 'log records', outcome: 'not billed', reason: 'log records carry no usage; the otlp receiver answers them and does not keep them' }],
      };
    } else {
      const entries: InspectEntry[] = [];
      for (const d of documentInspectors(registry)) entries.push(...d.inspect(text).map((e) => ({ ...e, by: d.id })));
      return {
        file,
        format: 'JSON document',
        entries,
        ...(entries.length ? {} : { error: 'neither OTLP traces (resourceSpans) nor a document any receiver reads' }),
      };
    }
  } else {
    try {
      batch = decodeOtlpProto(bytes);
    } catch (e) {
      return { file, format: 'unknown', entries: [], error: `neither JSON nor an OTLP protobuf trace request: ${(e as Error).message}` };
    }
  }
  const entries: InspectEntry[] = [];
  for (const p of spanInspectors(registry)) entries.push(...p.inspect(batch).map((e) => ({ ...e, by: p.id })));
  return { file, format, entries };
}

/** Human-readable report of one file. */
export function formatInspected(f: InspectedFile): string {
  const lines = [`${f.file} (${f.format})${f.error ? `: ${f.error}` : ''}`];
  const billed = f.entries.filter((e) => e.outcome === 'billed').length;
  if (f.entries.length) lines.push(`  ${f.entries.length} item(s), ${billed} billed`);
  for (const e of f.entries) {
    lines.push(`  ${e.item}: ${e.outcome}${e.as ? ` as ${e.as}` : ''}${e.reason ? ` (${e.reason})` : ''}`);
    if (e.summary) lines.push(`    ${e.summary}`);
  }
  return `${lines.join('\n')}\n`;
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('show how captured requests are read: per span (or log payload), the layout, the LLM call it yields, or why it is not billed')
    .argument('<files...>', 'OTLP trace requests (JSON or protobuf, optionally gzip) or log payload files')
    .addOption(new Option('--json', 'print the full result, with each LLM call, as JSON'))
    .action(async (files: string[], opts: { json?: boolean }) => {
      const registry = await createRegistry();
      const results: InspectedFile[] = [];
      for (const file of files) {
        try {
          results.push(inspectFile(file, registry));
        } catch (e) {
          results.push({ file, format: 'unreadable', entries: [], error: (e as Error).message });
        }
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else for (const r of results) process.stdout.write(formatInspected(r));
      if (results.some((r) => r.error)) process.exitCode = 1;
    });
}

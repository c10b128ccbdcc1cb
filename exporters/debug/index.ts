import { defineFactory, type DataType } from '../../src/component.js';
import { toOtlpJson } from '../../src/otlp/json.js';
import { spanCount, type SpanBatch } from '../../src/data/span.js';

export interface DebugExporterConfig {
  verbosity: 'count' | 'records';
}

/** Writes to stdout (or a test sink). */
export type Write = (line: string) => void;

export function debugExporter(id: string, c: DebugExporterConfig, write: Write = (l) => void process.stdout.write(l)) {
  let total = 0;
  return {
    async consume(data: unknown) {
      const isSpans = !Array.isArray(data);
      const n = isSpans ? spanCount(data as SpanBatch) : (data as unknown[]).length;
      total += n;
      const what = isSpans ? 'spans' : 'items';
      if (c.verbosity === 'count') {
        write(`[${id}] ${n} ${what} (total ${total})\n`);
        return;
      }
      const items = isSpans ? [toOtlpJson(data as SpanBatch)] : (data as unknown[]);
      write(`[${id}] ${n} ${what} (total ${total}):\n${items.map((i) => JSON.stringify(i, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).join('\n')}\n`);
    },
  };
}

export default defineFactory({
  kind: 'exporter',
  type: 'debug',
  description: 'Prints what it receives (a count, or every record) to stdout, for trying things out.',
  stability: 'beta',
  consumes: ['meter_events', 'llm_calls', 'spans'] as DataType[],
  configSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      verbosity: { enum: ['count', 'records'], description: 'Print only a count per batch ("count", default) or every record as one JSON line ("records").' },
    },
  },
  defaultConfig: (): DebugExporterConfig => ({ verbosity: 'count' }),
  create: (s) => debugExporter(s.id, s.config as DebugExporterConfig),
});

/** Prints what reaches it to stdout: a count per batch, or every item as one JSON line. */
import type { Exporter } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { spanCount, type SpanBatch } from '../../src/data/span.js';
import { toOtlpJson } from '../../src/otlp/json.js';
import type { DebugExporterConfig } from './config.js';

/** Writes to stdout (or a test sink). */
export type Write = (line: string) => void;

export class DebugExporter implements Exporter<MeterRecord[] | LlmCall[] | SpanBatch> {
  private total = 0;

  constructor(
    private readonly c: DebugExporterConfig,
    private readonly s: { id: string },
    private readonly write: Write = (l) => void process.stdout.write(l),
  ) {}

  // async without await: a throw from the sink must reach the fan-out as a rejection, not a synchronous throw.
  // eslint-disable-next-line @typescript-eslint/require-await
  async consume(data: MeterRecord[] | LlmCall[] | SpanBatch): Promise<void> {
    const isSpans = !Array.isArray(data);
    const n = isSpans ? spanCount(data) : data.length;
    this.total += n;
    const what = isSpans ? 'spans' : 'items';
    if (this.c.verbosity === 'count') {
      this.write(`[${this.s.id}] ${n} ${what} (total ${this.total})\n`);
      return;
    }
    const items: unknown[] = isSpans ? [toOtlpJson(data)] : data;
    this.write(
      `[${this.s.id}] ${n} ${what} (total ${this.total}):\n${items.map((i) => JSON.stringify(i, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).join('\n')}\n`,
    );
  }
}

/**
 * The data types that flow through pipelines, and what the core needs to know of each: how many
 * items a batch holds (the processors' item counters), whether a pipeline's write-ahead log
 * keeps it (the log goes in front of the first stage that receives a durable type), and the
 * compact codec of its log records, if it has one.
 */
import type { DataType } from '../component.js';
import type { RecordCodec } from '../storage/codec.js';
import { llmCallsCodec } from '../storage/llm-calls-codec.js';
import { isLogsBatch } from './logs.js';
import { spanCount, type SpanBatch } from './span.js';

export interface DataTypeInfo {
  name: DataType;
  /** Items in one batch of this type (0 for data of another shape). */
  count: (data: unknown) => number;
  /** Billing data: a pipeline's write-ahead log keeps it (spans and logs are forwarded best-effort). */
  durable: boolean;
  /** The compact write-ahead log format of its records (else V8's serialization format). */
  codec?: RecordCodec;
}

const arrayLength = (data: unknown): number => (Array.isArray(data) ? data.length : 0);

export const DATA_TYPE_INFO: { readonly [K in DataType]: DataTypeInfo } = {
  spans: {
    name: 'spans',
    count: (data) => (data && typeof data === 'object' && 'resourceSpans' in data ? spanCount(data as SpanBatch) + ((data as SpanBatch).omitted?.valid ?? 0) : 0),
    durable: false,
  },
  logs: { name: 'logs', count: (data) => (isLogsBatch(data) ? data.logRecords : 0), durable: false },
  llm_calls: { name: 'llm_calls', count: arrayLength, durable: true, codec: llmCallsCodec },
  meter_events: { name: 'meter_events', count: arrayLength, durable: true },
};

/** Every type's compact codec, for reading log records (each names its codec in its first byte). */
export const RECORD_CODECS: readonly RecordCodec[] = Object.values(DATA_TYPE_INFO).flatMap((t) => (t.codec ? [t.codec] : []));

/**
 * One item of a log file → LLM calls. An item is either a LiteLLM StandardLoggingPayload (one
 * call) or an OTLP/JSON trace request (`{"resourceSpans": [...]}`, what a Collector's file
 * exporter writes, one per line), whose LLM-call spans become calls the way the `litellm`
 * processor converts them; its other spans yield nothing.
 */
import type { LlmCall } from '../../src/data/llm-call.js';
import { sloToLlmCall } from '../../integrations/litellm/slo.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { classifySpan, spanToLlmCall } from '../../integrations/litellm/span.js';

/** What files may hold, for error messages and the command's help. */
export const EXPECTED_FORMATS =
  'LiteLLM StandardLoggingPayload objects (what its s3_v2, gcs_bucket and generic_api loggers write) or OTLP/JSON trace requests ({"resourceSpans": [...]}, e.g. a Collector file exporter\'s output): one per file, a JSON array of them, or one per line (NDJSON), optionally gzip-compressed';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ItemCalls {
  calls: LlmCall[];
  /** Spans of an OTLP item that are LLM calls but could not be converted, with the reason. */
  problems: string[];
}

/** Throws when the item is neither format (the message names both). */
export function itemToLlmCalls(item: unknown): ItemCalls {
  if (isObject(item) && 'resourceSpans' in item) {
    const batch = fromOtlpJson(item);
    const calls: LlmCall[] = [];
    const problems: string[] = [];
    for (const rs of batch.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const span of ss.spans) {
          try {
            // Every layout LiteLLM (or a GenAI instrumentation) writes, as the litellm processor reads them.
            const v = classifySpan(span);
            if (v.kind === 'call') calls.push(spanToLlmCall(span, v.layout));
            else if (v.kind === 'unbillable') problems.push(`span ${span.spanId} (${span.name}): not billed, ${v.reason}: ${v.detail}`);
          } catch (e) {
            problems.push(`span ${span.spanId}: ${(e as Error).message}`);
          }
        }
    return { calls, problems };
  }
  if (isObject(item) && !('startTime' in item) && !('id' in item) && !('metadata' in item) && !('call_type' in item)) {
    const keys = Object.keys(item).slice(0, 5);
    throw new Error(`neither a StandardLoggingPayload nor an OTLP/JSON trace request (keys: ${keys.length ? keys.join(', ') : 'none'})`);
  }
  return { calls: [sloToLlmCall(item)], problems: [] };
}

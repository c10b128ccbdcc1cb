/**
 * The consumer in front of a pipeline's first `llm_calls` stage (before the write-ahead log):
 * every LLM call from every source passes {@link checkLlmCall}. Dropped calls are counted by
 * reason and logged (rate-limited); clamps and hashed ids are counted too.
 */
import type { Logger } from 'pino';
import type { Counter, Registry } from 'prom-client';
import type { ConsumeContext, Consumer } from '../component.js';
import type { LlmCall } from './llm-call.js';
import { checkLlmCall, type LlmCallLimits } from './llm-call-checks.js';
import { instruments } from '../telemetry/declare.js';
import { LLM_CALL_CHECK_METRICS } from '../telemetry/metadata.js';

const LOG_INTERVAL_MS = 10_000;

export class LlmCallGate implements Consumer<LlmCall[]> {
  private readonly dropped: Counter<'pipeline' | 'reason'>;
  private readonly adjusted: Counter<'pipeline' | 'reason'>;
  private readonly lastLog = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly next: Consumer<unknown>,
    private readonly limits: LlmCallLimits,
    private readonly pipeline: string,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    const m = instruments(registry, LLM_CALL_CHECK_METRICS);
    this.dropped = m.dropped;
    this.adjusted = m.adjusted;
  }

  /** Not async: the calls are checked now and not kept referenced while downstream works. */
  consume(calls: LlmCall[], ctx?: ConsumeContext): Promise<void> {
    const now = Date.now();
    let out: LlmCall[] | null = null;
    for (let i = 0; i < calls.length; i++) {
      const r = checkLlmCall(calls[i]!, this.limits, now);
      if (r.ok && r.call === calls[i]) {
        out?.push(r.call);
        continue;
      }
      out ??= calls.slice(0, i);
      if (r.ok) {
        out.push(r.call);
        for (const a of r.adjusted) this.adjusted.inc({ pipeline: this.pipeline, reason: a });
        continue;
      }
      this.dropped.inc({ pipeline: this.pipeline, reason: r.reason });
      this.log(r.reason, r.detail, calls[i]!);
    }
    if (out === null) return this.next.consume(calls, ctx);
    if (out.length === 0) return Promise.resolve();
    return this.next.consume(out, ctx);
  }

  private log(reason: string, detail: string, call: LlmCall): void {
    const now = Date.now();
    const e = this.lastLog.get(reason);
    if (e && now - e.at < LOG_INTERVAL_MS) {
      e.suppressed++;
      return;
    }
    this.lastLog.set(reason, { at: now, suppressed: 0 });
    const id = call.id.length > 80 ? `${call.id.slice(0, 80)}…` : call.id;
    this.logger.warn(
      { pipeline: this.pipeline, reason, id, source: call.source, suppressed: e?.suppressed ?? 0 },
      `LLM call dropped (${reason}): ${detail}${e?.suppressed ? `; ${e.suppressed} more dropped for this reason since the last line` : ''}; see spanmeter_llm_calls_dropped_total`,
    );
  }
}

/**
 * Resolves the facts of a batch of calls within the budget and applies them.
 *
 * Fast path: every id is in the cache (hit, stale or negative) → no promise, no timer.
 * Otherwise misses are fetched on demand (rate-limited, de-duplicated) and the batch waits:
 * - `on_miss: pass`: at most `budget`; what is still missing then stays null, and the fetches go
 *   on in the background to fill the cache for the next records;
 * - `on_miss: wait`: up to `wait_timeout`, retrying while the source fails or the rate limit
 *   holds; if something is still unresolved because of the source, the batch is refused with
 *   BackpressureError (nothing was passed on; the sender retries later).
 * Ids the source positively does not know (negative entries) never hold a batch.
 */
import { sleep } from '../../src/backoff.js';
import { BackpressureError } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { applyFacts, type Found, type ModelMapOptions } from './apply.js';
import type { Kind } from '../../integrations/litellm/catalogue/facts.js';
import type { OnMiss } from './config.js';
import type { Lookup, UnresolvedReason } from './lookup.js';
import type { EnrichMetrics } from './metadata.js';

export interface Lookups {
  team?: Lookup<'team'>;
  key?: Lookup<'key'>;
  model?: Lookup<'model'>;
}

export interface EnricherOptions {
  onMiss: OnMiss;
  budgetMs: number;
  waitTimeoutMs: number;
  modelMap: ModelMapOptions;
  processorId: string;
  /** Aborted at shutdown: waiting lookups give up at once. */
  stop?: AbortSignal;
}

/** Per-call resolution state, written as lookups complete (read at the deadline). */
interface State extends Found {
  unresolved: Partial<Record<Kind, UnresolvedReason | 'budget'>>;
  done: boolean;
  /** The team id already read from the cache (a miss there is not read again). */
  teamPeeked?: string;
}

export class Enricher {
  constructor(
    private readonly lookups: Lookups,
    private readonly o: EnricherOptions,
    private readonly metrics: EnrichMetrics,
  ) {}

  async enrich(calls: LlmCall[]): Promise<LlmCall[]> {
    let out: LlmCall[] | undefined;
    let slow: number[] | undefined;
    let states: State[] | undefined;
    for (let i = 0; i < calls.length; i++) {
      const st = this.resolveSync(calls[i]!);
      if (!st.done) {
        (slow ??= []).push(i);
        (states ??= []).push(st);
      } else {
        const next = applyFacts(calls[i]!, st, this.o.modelMap);
        if (next !== calls[i]) (out ??= calls.slice())[i] = next;
      }
    }
    if (!slow || !states) return out ?? calls;
    out ??= calls.slice();
    const deadline = Date.now() + (this.o.onMiss === 'wait' ? this.o.waitTimeoutMs : this.o.budgetMs);
    const work = Promise.all(slow.map((idx, j) => this.resolveAsync(calls[idx]!, states[j]!, deadline)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))));
    await Promise.race([work, timeout]);
    clearTimeout(timer);

    let refuse = false;
    for (const [j, st] of states.entries()) {
      if (!st.done) {
        // Still waiting on the source at the deadline: what is missing goes on as unknown.
        for (const kind of ['key', 'team', 'model'] as const) {
          if (st[kind] === undefined && !st.unresolved[kind] && this.pendingKind(kind, calls[slow[j]!]!, st)) {
            st.unresolved[kind] = 'budget';
            this.metrics.unresolved.inc({ processor: this.o.processorId, kind, reason: 'budget' });
          }
        }
      }
      if (Object.keys(st.unresolved).length) refuse = true;
    }
    if (this.o.onMiss === 'wait' && refuse) {
      this.metrics.refused.inc({ processor: this.o.processorId });
      throw new BackpressureError(
        'enrich: the lookup source did not answer within wait_timeout; retry later',
        Math.max(1, Math.ceil(this.o.waitTimeoutMs / 1000)),
      );
    }
    slow.forEach((idx, j) => {
      out[idx] = applyFacts(calls[idx]!, states[j]!, this.o.modelMap);
    });
    return out;
  }

  /** Whether `kind` was needed for this call but not obtained. */
  private pendingKind(kind: Kind, call: LlmCall, st: State): boolean {
    if (kind === 'key') return !!(this.lookups.key && call.keyHash);
    if (kind === 'model') return !!(this.lookups.model && call.modelId);
    return !!(this.lookups.team && (call.teamId ?? st.key?.teamId));
  }

  /**
   * Reads every needed id from the cache once (each read is counted once in the metrics).
   * `done` is false when something must be fetched; what was found is kept for the async step.
   */
  private resolveSync(call: LlmCall): State {
    const st: State = { unresolved: {}, done: true };
    const { key, team, model } = this.lookups;
    if (key && call.keyHash) {
      const p = key.peek(call.keyHash);
      if (p.state === 'miss') st.done = false;
      else st.key = p.state === 'hit' ? p.facts : null;
    }
    const keyPending = key && call.keyHash && st.key === undefined;
    const teamId = call.teamId ?? st.key?.teamId ?? null;
    if (team && teamId) {
      const p = team.peek(teamId);
      st.teamPeeked = teamId;
      if (p.state === 'miss') st.done = false;
      else st.team = p.state === 'hit' ? p.facts : null;
    } else if (team && keyPending && !call.teamId) {
      st.done = false; // the team id may come with the key
    }
    if (model && call.modelId) {
      const p = model.peek(call.modelId);
      if (p.state === 'miss') st.done = false;
      else st.model = p.state === 'hit' ? p.facts : null;
    }
    return st;
  }

  /** Fetches what resolveSync could not find. */
  private async resolveAsync(call: LlmCall, st: State, deadline: number): Promise<void> {
    const { key, team, model } = this.lookups;
    const modelP = model && call.modelId && st.model === undefined ? this.fetchInto(model, call.modelId, st, deadline) : undefined;
    if (key && call.keyHash && st.key === undefined) await this.fetchInto(key, call.keyHash, st, deadline);
    const teamId = call.teamId ?? st.key?.teamId ?? null;
    if (team && teamId && st.team === undefined) {
      const p = st.teamPeeked === teamId ? ({ state: 'miss' } as const) : team.peek(teamId);
      if (p.state === 'miss') await this.fetchInto(team, teamId, st, deadline);
      else st.team = p.state === 'hit' ? p.facts : null;
    }
    await modelP;
    st.done = true;
  }

  /** Fetches one id into `st[kind]` (facts or null), or records why it could not. */
  private async fetchInto<K extends Kind>(lookup: Lookup<K>, id: string, st: State, deadline: number): Promise<void> {
    const kind = lookup.kind;
    for (;;) {
      const outcome = await lookup.fetch(id);
      if ('facts' in outcome) {
        (st as Found)[kind] = outcome.facts;
        return;
      }
      const left = deadline - Date.now();
      if (this.o.onMiss === 'pass' || left <= 0 || this.o.stop?.aborted) {
        st.unresolved[kind] = outcome.unresolved;
        this.metrics.unresolved.inc({ processor: this.o.processorId, kind, reason: outcome.unresolved });
        return;
      }
      // on_miss: wait — try again shortly (the rate limit and in-flight bound still apply).
      const pause = outcome.unresolved === 'source_error' ? 250 : Math.max(10, lookup.msUntilToken());
      await sleep(Math.min(pause, left));
    }
  }
}

/**
 * Reconciliation of the metered calls (from an exporter's objects) against a reference log of the
 * same calls kept by the gateway (e.g. its spend log), matched by call id (`uniqueId`).
 *
 * Differences are sorted into those that break the bill (a call the gateway logged and the files
 * do not hold, a call only in the files, token counts that differ) and those that are expected and
 * shown apart: calls too recent to have settled on either side, failed calls the gateway did not
 * log, failed calls the gateway logged without a span reaching the meter, and calls written more
 * than once (the exporters' re-delivery; the metering service de-duplicates by `uniqueId`).
 */
import type { MeterRecord } from '../data/meter-record.js';
import type { UsageMeters } from './usage.js';

/** One call as the reference log has it. */
export interface ReferenceCall {
  id: string;
  startTimeMs: number;
  team: string | null;
  key: string | null;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  /** true/false when the log records the outcome; null when it does not (older schemas). */
  failed: boolean | null;
  /** The gateway's call type (e.g. `acompletion`), when it says. */
  callType?: string | null;
}

export interface ReferenceLog {
  readonly label: string;
  /** Calls that started in [fromMs, toMs), in pages; a call may come more than once. */
  calls(fromMs: number, toMs: number): AsyncIterable<ReferenceCall[]>;
  close?(): Promise<void> | void;
}

interface Metered {
  t: number;
  team: string;
  key: string;
  model: string;
  input: number;
  output: number;
  /** `llm_api_call` records with this id: 1, or more when an object was written twice. */
  copies: number;
  failed: boolean;
}

/** Per-call facts from meter records (records without a `uniqueId` are not calls' and are skipped). */
export class MeteredCalls {
  readonly calls = new Map<string, Metered>();

  constructor(private readonly meters: UsageMeters) {}

  add(records: readonly MeterRecord[]): void {
    const meters = this.meters;
    for (const r of records) {
      const id = r.uniqueId;
      if (typeof id !== 'string') continue;
      let m = this.calls.get(id);
      if (!m) {
        const d = r.dimensions ?? {};
        m = {
          t: r.meterTimeInMillis,
          team: d.team ?? 'unknown',
          key: d.key_name ?? 'unknown',
          model: d.model ?? 'unknown',
          input: 0,
          output: 0,
          copies: 0,
          failed: false,
        };
        this.calls.set(id, m);
      }
      const v = Number.isFinite(r.meterValue) ? r.meterValue : 0;
      switch (r.meterApiName) {
        case meters.call: {
          m.copies++;
          const code = r.dimensions?.error_code;
          if (code !== undefined && code !== null && code !== 'n') m.failed = true;
          break;
        }
        case meters.textTokens:
          if (r.dimensions?.type === 'in') m.input += v;
          else if (r.dimensions?.type === 'out') m.output += v;
          break;
        case meters.imageTokens:
          m.output += v;
          break;
      }
    }
  }
}

export interface ReconcileOptions {
  fromMs: number;
  toMs: number;
  /** Calls that started after this time have not settled: differences are expected (lag on either side). */
  settledBeforeMs: number;
  /** Token difference per call (prompt and completion each) still counted as agreement. */
  tokenTolerance: number;
  /** Calls missing from the files, and calls only in the files, still counted as agreement. */
  maxMissing: number;
  maxExtra: number;
  /** Reference calls of these types are not expected in the files (listed apart when missing). */
  excludeCallTypes?: readonly string[];
}

export interface CallRef {
  id: string;
  startTime: string;
  team: string;
  key: string;
  model: string;
}

export interface TokenMismatch extends CallRef {
  reference: { promptTokens: number; completionTokens: number };
  metered: { inputTokens: number; outputTokens: number };
}

export interface TeamSummary {
  team: string;
  referenceCalls: number;
  meteredCalls: number;
  matched: number;
  missingFromFiles: number;
  onlyInFiles: number;
  tokenMismatches: number;
  referencePromptTokens: number;
  referenceCompletionTokens: number;
  meteredInputTokens: number;
  meteredOutputTokens: number;
}

export interface ReconcileResult {
  agree: boolean;
  range: { from: string; to: string; settledBefore: string };
  tolerances: { tokenTolerance: number; maxMissing: number; maxExtra: number };
  counts: { referenceCalls: number; meteredCalls: number; matched: number };
  /** Differences that break the bill. */
  missingFromFiles: CallRef[];
  onlyInFiles: CallRef[];
  tokenMismatches: TokenMismatch[];
  /** Expected differences, shown apart. */
  expected: {
    notSettledMissingFromFiles: CallRef[];
    notSettledOnlyInFiles: CallRef[];
    failedNotInReference: CallRef[];
    failedNotMetered: CallRef[];
    excludedCallTypesNotMetered: (CallRef & { callType: string })[];
    meteredMoreThanOnce: (CallRef & { copies: number })[];
  };
  teams: TeamSummary[];
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/**
 * Compares the reference log with the metered calls. `metered` should hold the calls of a range
 * somewhat wider than [from, to) and the reference is read over the same wider range, so that a
 * call whose two start times fall on either side of a bound still matches.
 */
export async function reconcile(
  metered: MeteredCalls,
  reference: ReferenceLog,
  readFromMs: number,
  readToMs: number,
  o: ReconcileOptions,
): Promise<ReconcileResult> {
  const inRange = (t: number) => t >= o.fromMs && t < o.toMs;
  const teams = new Map<string, TeamSummary>();
  const team = (name: string) => {
    let s = teams.get(name);
    if (!s)
      teams.set(
        name,
        (s = {
          team: name,
          referenceCalls: 0,
          meteredCalls: 0,
          matched: 0,
          missingFromFiles: 0,
          onlyInFiles: 0,
          tokenMismatches: 0,
          referencePromptTokens: 0,
          referenceCompletionTokens: 0,
          meteredInputTokens: 0,
          meteredOutputTokens: 0,
        }),
      );
    return s;
  };
  const r: ReconcileResult = {
    agree: false,
    range: { from: iso(o.fromMs), to: iso(o.toMs), settledBefore: iso(o.settledBeforeMs) },
    tolerances: { tokenTolerance: o.tokenTolerance, maxMissing: o.maxMissing, maxExtra: o.maxExtra },
    counts: { referenceCalls: 0, meteredCalls: 0, matched: 0 },
    missingFromFiles: [],
    onlyInFiles: [],
    tokenMismatches: [],
    expected: {
      notSettledMissingFromFiles: [],
      notSettledOnlyInFiles: [],
      failedNotInReference: [],
      failedNotMetered: [],
      excludedCallTypesNotMetered: [],
      meteredMoreThanOnce: [],
    },
    teams: [],
  };
  const seen = new Set<string>();
  const excluded = new Set(o.excludeCallTypes ?? []);
  const meteredRef = (id: string, m: Metered): CallRef => ({ id, startTime: iso(m.t), team: m.team, key: m.key, model: m.model });
  for await (const page of reference.calls(readFromMs, readToMs)) {
    for (const c of page) {
      if (seen.has(c.id)) continue; // pages of a log being written can overlap
      seen.add(c.id);
      const m = metered.calls.get(c.id);
      if (!inRange(c.startTimeMs) && !(m && inRange(m.t))) continue;
      r.counts.referenceCalls++;
      const ref: CallRef = { id: c.id, startTime: iso(c.startTimeMs), team: c.team ?? 'unknown', key: c.key ?? 'unknown', model: c.model ?? 'unknown' };
      const s = team(m ? m.team : ref.team);
      s.referenceCalls++;
      s.referencePromptTokens += c.promptTokens;
      s.referenceCompletionTokens += c.completionTokens;
      if (!m) {
        if (c.callType && excluded.has(c.callType)) r.expected.excludedCallTypesNotMetered.push({ ...ref, callType: c.callType });
        else if (c.startTimeMs >= o.settledBeforeMs) r.expected.notSettledMissingFromFiles.push(ref);
        else if (c.failed === true) r.expected.failedNotMetered.push(ref);
        else {
          r.missingFromFiles.push(ref);
          s.missingFromFiles++;
        }
        continue;
      }
      r.counts.matched++;
      s.matched++;
      const copies = Math.max(1, m.copies);
      const input = m.input / copies;
      const output = m.output / copies;
      if (Math.abs(input - c.promptTokens) > o.tokenTolerance || Math.abs(output - c.completionTokens) > o.tokenTolerance) {
        r.tokenMismatches.push({
          ...meteredRef(c.id, m),
          reference: { promptTokens: c.promptTokens, completionTokens: c.completionTokens },
          metered: { inputTokens: input, outputTokens: output },
        });
        s.tokenMismatches++;
      }
    }
  }
  for (const [id, m] of metered.calls) {
    if (!inRange(m.t)) continue;
    r.counts.meteredCalls++;
    const s = team(m.team);
    s.meteredCalls++;
    const copies = Math.max(1, m.copies);
    s.meteredInputTokens += m.input / copies;
    s.meteredOutputTokens += m.output / copies;
    if (m.copies > 1) r.expected.meteredMoreThanOnce.push({ ...meteredRef(id, m), copies: m.copies });
    if (seen.has(id)) continue;
    if (m.t >= o.settledBeforeMs) r.expected.notSettledOnlyInFiles.push(meteredRef(id, m));
    else if (m.failed) r.expected.failedNotInReference.push(meteredRef(id, m));
    else {
      r.onlyInFiles.push(meteredRef(id, m));
      s.onlyInFiles++;
    }
  }
  const byTime = (a: CallRef, b: CallRef) => (a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  for (const list of [r.missingFromFiles, r.onlyInFiles, r.tokenMismatches, ...Object.values(r.expected)]) list.sort(byTime);
  r.teams = [...teams.values()].sort((a, b) => (a.team < b.team ? -1 : a.team > b.team ? 1 : 0));
  r.agree = r.missingFromFiles.length <= o.maxMissing && r.onlyInFiles.length <= o.maxExtra && r.tokenMismatches.length === 0;
  return r;
}

/** The human-readable reconciliation: verdict, counts, per-team summary, then the calls (the first `maxIds` of each list). */
export function reconcileText(r: ReconcileResult, referenceLabel: string, filesLabel: string, maxIds = 50): string {
  const out: string[] = [];
  out.push(
    `${r.agree ? 'AGREE' : 'DIFFER'}: ${filesLabel} against ${referenceLabel}, ${r.range.from} to ${r.range.to} (calls after ${r.range.settledBefore} not settled)`,
  );
  out.push(`  calls: ${r.counts.referenceCalls} in the reference log, ${r.counts.meteredCalls} in the files, ${r.counts.matched} matched`);
  out.push(`  missing from the files: ${r.missingFromFiles.length} (tolerated: ${r.tolerances.maxMissing})`);
  out.push(`  only in the files: ${r.onlyInFiles.length} (tolerated: ${r.tolerances.maxExtra})`);
  out.push(`  token mismatches: ${r.tokenMismatches.length} (per-call tolerance: ${r.tolerances.tokenTolerance} tokens)`);
  out.push('expected differences (not counted against the tolerances):');
  out.push(`  not settled yet, missing from the files: ${r.expected.notSettledMissingFromFiles.length}`);
  out.push(`  not settled yet, not in the reference log (spend log lag): ${r.expected.notSettledOnlyInFiles.length}`);
  out.push(`  failed calls the reference log does not have: ${r.expected.failedNotInReference.length}`);
  out.push(`  failed calls in the reference log that were not metered: ${r.expected.failedNotMetered.length}`);
  if (r.expected.excludedCallTypesNotMetered.length)
    out.push(`  calls of excluded types (--exclude-call-type) not metered: ${r.expected.excludedCallTypesNotMetered.length}`);
  out.push(`  calls written more than once (de-duplicated by uniqueId downstream): ${r.expected.meteredMoreThanOnce.length}`);
  out.push('');
  const cols = ['team', 'ref calls', 'metered', 'matched', 'missing', 'only files', 'token diff', 'ref prompt', 'ref compl', 'met in', 'met out'];
  const rows = r.teams.map((t) =>
    [
      t.team,
      t.referenceCalls,
      t.meteredCalls,
      t.matched,
      t.missingFromFiles,
      t.onlyInFiles,
      t.tokenMismatches,
      t.referencePromptTokens,
      t.referenceCompletionTokens,
      t.meteredInputTokens,
      t.meteredOutputTokens,
    ].map(String),
  );
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((x) => x[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out.push(line(cols), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line));
  const list = (title: string, calls: readonly CallRef[], extra: (c: CallRef) => string = () => '') => {
    if (!calls.length) return;
    out.push('', `${title} (${calls.length}):`);
    for (const c of calls.slice(0, maxIds)) out.push(`  ${c.id}  ${c.startTime}  team=${c.team} key=${c.key} model=${c.model}${extra(c)}`);
    if (calls.length > maxIds) out.push(`  … and ${calls.length - maxIds} more (--format json or --ids-file lists them all)`);
  };
  list('missing from the files', r.missingFromFiles);
  list('only in the files', r.onlyInFiles);
  list('token mismatches', r.tokenMismatches, (c) => {
    const m = c as TokenMismatch;
    return `  reference prompt=${m.reference.promptTokens} completion=${m.reference.completionTokens}, files input=${m.metered.inputTokens} output=${m.metered.outputTokens}`;
  });
  return `${out.join('\n')}\n`;
}

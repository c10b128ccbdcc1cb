/**
 * V8 settings for the collector's short-lived allocations, applied when this module is loaded
 * (`cli.ts` imports it first): allocation-site pretenuring off, and the old generation grown to 3×
 * its live size. A flag the operator gives on node's command line wins. Why, with the
 * measurements: docs/design/v8-tuning.md.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags the collector sets, each with the pattern that recognises the operator's own (either way, `-` or `_`). */
const FLAGS: readonly { flag: string; given: RegExp }[] = [
  { flag: '--no-allocation-site-pretenuring', given: /^--(no-)?allocation[-_]site[-_]pretenuring(=.*)?$/ },
  { flag: '--heap-growing-percent=200', given: /^--heap[-_]growing[-_]percent(=.*)?$/ },
];

/**
 * Applies the collector's V8 flags that the operator did not give; returns the flags it set.
 * `set` is injectable for tests.
 */
export function tuneV8(execArgv: readonly string[] = process.execArgv, set: (flags: string) => void = setFlagsFromString): string[] {
  const applied: string[] = [];
  for (const { flag, given } of FLAGS) {
    if (execArgv.some((a) => given.test(a))) continue;
    set(flag);
    applied.push(flag);
  }
  return applied;
}

export const appliedV8Flags: readonly string[] = tuneV8();

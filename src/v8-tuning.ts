/**
 * V8 settings for the collector's allocation pattern, applied when this module is loaded: `cli.ts`
 * imports it before anything else, so they hold before the pipeline's code runs (in cluster
 * workers too, which run `cli.ts` again).
 *
 * **Allocation-site pretenuring off.** V8 watches each allocation site (an object literal, an
 * array) and, when the objects of a site are found alive at several young-generation collections
 * in a row, allocates that site's objects straight in the old generation from then on. The
 * collector's data is short-lived (a request's LLM calls live a few ms, meter records until their
 * file is written), but a scavenge that happens while a request is being converted finds all of
 * that request's objects alive. Under load `--trace-pretenuring` shows sites going to "tenure", and
 * a sampling heap profile showed the `LlmCall` objects and meter records freed by full collections,
 * not scavenges: they died in the old generation, and until a full collection freed them, every
 * young string they pointed to was kept alive through the remembered set, copied by each scavenge,
 * then promoted. Measured at 10,000 calls/s (`--trace-gc-nvp`, 12 s, two runs each way,
 * bench/README.md): 1.16–1.20 MB promoted per scavenge with pretenuring, 0.22–0.24 MB without;
 * full collections 6–8 → 2; ack p99 29.9 / 32.9 → 17.4 / 12.1 ms; peak RSS 182–193 → 153–159 MB.
 *
 * An operator who gives the flag either way on node's command line (`node
 * --allocation-site-pretenuring dist/src/cli.js ...`) keeps that choice. (NODE_OPTIONS cannot
 * carry V8 flags like this one; node refuses them there.) `BENCH_NODE_FLAGS` passes it to the
 * benchmark's collector for an A/B comparison.
 */
import { setFlagsFromString } from 'node:v8';

const PRETENURING = /^--(no-)?allocation[-_]site[-_]pretenuring(=.*)?$/;

/**
 * Applies the collector's V8 flags unless the operator gave them; returns the flags it set.
 * `set` is injectable for tests.
 */
export function tuneV8(execArgv: readonly string[] = process.execArgv, set: (flags: string) => void = setFlagsFromString): string[] {
  if (execArgv.some((a) => PRETENURING.test(a))) return [];
  const flag = '--no-allocation-site-pretenuring';
  set(flag);
  return [flag];
}

export const appliedV8Flags: readonly string[] = tuneV8();

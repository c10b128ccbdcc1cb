/**
 * V8 settings for the collector's allocation pattern, applied when this module is loaded: `cli.ts`
 * imports it before anything else, so they hold before the pipeline's code runs (in cluster
 * workers too, which run `cli.ts` again). Both are read by V8 while it runs (not only when the heap
 * is created), so setting them here works; an operator who gives either flag on node's command line
 * (`node --allocation-site-pretenuring dist/src/cli.js ...`) keeps that choice. (NODE_OPTIONS cannot
 * carry V8 flags like these; node refuses them there.) `BENCH_NODE_FLAGS` passes them to the
 * benchmark's collector for an A/B comparison.
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
 * docs/performance.md): 1.16–1.20 MB promoted per scavenge with pretenuring, 0.22–0.24 MB without;
 * full collections 6–8 → 2; ack p99 29.9 / 32.9 → 17.4 / 12.1 ms; peak RSS 182–193 → 153–159 MB.
 *
 * **Old generation grown 3× its live size after a full collection (`--heap-growing-percent=200`).**
 * V8 counts the Buffers allocated since the last full collection (each request body twice, as
 * Node's HTTP chunks and joined; batch JSON; log records) against the old generation's
 * limit, and starts marking once that limit is within a young generation (16 MB) of being reached.
 * After a full collection it sets the limit from the live size (~17 MB here) times a factor it
 * derives from how fast collections and allocation were (1.1 to 4), and at least 8 MB above it.
 * With a low factor (`--trace-gc-verbose` showed 1.1–1.2) the Buffers of the next few requests,
 * most of which the next scavenge would free, reach it at once, and the next full collection,
 * fast again, sets the factor low again. The collector then fell
 * into runs of a full collection every 100–300 ms: at 15,000 calls/s (`--trace-gc`, 10 s, 7 runs)
 * 17–34 of them in 3 runs, 7 in one, none in three; p99 29–56 ms in the runs with them, 11–12 ms
 * without. With a fixed factor of 3 (this flag), 0–2 in each of 10 runs (a factor of 2 made it
 * worse: 28–30 in all three runs). The old generation's live set is a few tens of MB (a backlog
 * waits on disk, not in the heap), so 3× it stays well below the RSS target.
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

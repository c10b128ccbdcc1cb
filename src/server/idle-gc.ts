/**
 * A full garbage collection once a server goes idle after a burst. V8 collects only when it
 * allocates, so after a burst of large requests the garbage (decoded spans, request bodies) would
 * stay in RSS until the next traffic; one collection after a quiet second hands it back. Never
 * runs under steady traffic (there is no quiet second), so it costs nothing then.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | null | undefined;

/** The collector's `gc()`, exposed at run time (null when the runtime refuses). */
function getGc(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') return (gcFn = g);
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

export class IdleCollector {
  private work = 0;
  private lastActivity = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Collections run (for tests and status). */
  runs = 0;

  constructor(
    /** Work (e.g. decoded spans and attributes) since the last collection that makes one worth it. */
    private readonly threshold: number,
    private readonly quietMs = 1000,
  ) {}

  /** Called when a request starts. */
  activity(): void {
    this.lastActivity = Date.now();
  }

  /** Called when a request ends with the work it took; `idle` when nothing else is in flight. */
  done(work: number, idle: boolean): void {
    this.work += work;
    this.lastActivity = Date.now();
    if (!idle || this.work < this.threshold || this.timer) return;
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const quiet = Date.now() - this.lastActivity;
      if (quiet < this.quietMs) {
        this.schedule();
        return;
      }
      const gc = getGc();
      if (!gc) return;
      this.work = 0;
      this.runs++;
      gc();
    }, this.quietMs);
    this.timer.unref();
  }
}

/** Durations as written in pipeline.yaml: "300ms", "5s", "1m30s", "2h", "1.5s". */
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function isDuration(s: string): boolean {
  return WHOLE.test(s);
}

/** Parses a duration to milliseconds; throws on a malformed value. */
export function parseDuration(s: string): number {
  if (!isDuration(s)) throw new Error(`not a duration: "${s}" (write e.g. "5s", "300ms", "1m30s")`);
  let ms = 0;
  for (const m of s.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/** JSON Schema for a duration string (validated by the `duration` format). */
export const durationSchema = { type: 'string', format: 'duration' } as const;

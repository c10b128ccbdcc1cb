/**
 * Clean mode's rule 1 (docs/mapping.md) as a test oracle, written independently of the amberflo processor:
 * null or empty → `unknown`; `/` → `:`; any other character outside
 * `[-_ !.*'()&$@=;:+,?0-9a-zA-Z]` → `_` (per code point); cut at 200.
 */
export function rule1(v: unknown): string {
  if (v === null || v === undefined || v === '') return 'unknown';
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- per code point, as the rule says
  return [...String(v)]
    .map((c) => (c === '/' ? ':' : /^[-_ !.*'()&$@=;:+,?0-9a-zA-Z]$/.test(c) ? c : '_'))
    .slice(0, 200)
    .join('');
}

/** The records with rule 1 applied to every dimension value (records without dimensions unchanged). */
export function cleaned<R extends { dimensions?: Record<string, unknown> | null }>(records: R[]): R[] {
  return records.map((r) => (r.dimensions ? { ...r, dimensions: Object.fromEntries(Object.entries(r.dimensions).map(([k, v]) => [k, rule1(v)])) } : r));
}

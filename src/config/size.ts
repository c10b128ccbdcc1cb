/** Sizes as written in pipeline.yaml: a number of bytes, or "512KiB", "20MiB", "1GiB", "10MB". */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i;

export function parseByteSize(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error(`not a size: ${v}`);
    return Math.floor(v);
  }
  const m = SIZE_RE.exec(v.trim());
  if (!m) throw new Error(`not a size: "${v}" (write e.g. "20MiB" or a number of bytes)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

/** JSON Schema for a size: bytes as an integer, or a string like "20MiB". */
export const byteSizeSchema = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', format: 'byte-size' },
  ],
} as const;

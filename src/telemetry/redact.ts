/**
 * Redaction for everything that leaves the process (logs, the status page, dead letters, config
 * messages): values of keys named like secrets, credentials in URLs, header values and anything
 * shaped like a token in free text (an upstream body that echoes the request headers).
 */

/** Key names whose values are secrets, whatever the component. */
const SECRET_KEY =
  /(pass(word|wd)?|secret|token(?!s)|api[-_]?key|apikey|^auth$|authorization|cookie|credential|private[-_]?key|access[-_]?key|account[-_]?key|connection[-_]?string|master[-_]?key|signature)/i;

export const REDACTED = '[redacted]';

/** True when a key (header, config key, JSON field) names a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

const KEY = String.raw`[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|secret|token(?!s)|api[-_]?key|apikey|authorization|cookie|credential|private[-_]?key|access[-_]?key|account[-_]?key|connection[-_]?string|master[-_]?key|signature)[A-Za-z0-9_.-]*`;
const RULES: [RegExp, string | ((...m: string[]) => string)][] = [
  // scheme://user:password@host → scheme://[redacted]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:'"]+(?::[^\s/@'"]*)?@/gi, `$1${REDACTED}@`],
  // "x-api-key": "value" and 'token': 'value' (JSON / Python reprs)
  [new RegExp(String.raw`(["'])(${KEY})\1(\s*[:=]\s*)(["'])(?:\\.|(?!\4).)*\4`, 'gi'), (_m, q, k, sep, q2) => `${q}${k}${q}${sep}${q2}${REDACTED}${q2}`],
  // key=value, key: value (headers, query strings, logfmt)
  [new RegExp(String.raw`\b(${KEY})(\s*[:=]\s*)(?:Bearer\s+|Basic\s+)?[^\s,;&"'}\]]+`, 'gi'), `$1$2${REDACTED}`],
  // Bearer/Basic credentials anywhere
  [/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, `$1 ${REDACTED}`],
  // Well-known token shapes: AWS access keys, OpenAI-style sk- keys, JWTs, GitHub tokens
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, REDACTED],
  [/\bsk-[A-Za-z0-9_-]{16,}\b/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, REDACTED],
];

/** Free text with credentials scrubbed. */
export function redactText(s: string): string {
  let out = s;
  for (const [re, to] of RULES) out = out.replace(re, to as string);
  return out;
}

/** An upstream body for a log line or a file: cut to `max` characters, then scrubbed. */
export function redactBody(s: string, max = 1000): string {
  const cut = s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
  return redactText(cut);
}

/** A URL without user:password (as text; unparseable input is scrubbed as text). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return redactText(url);
    u.username = REDACTED;
    u.password = '';
    return redactText(u.toString().replace(encodeURIComponent(REDACTED), REDACTED));
  } catch {
    return redactText(url);
  }
}

/** A deep copy with secret-named keys replaced and every string scrubbed (depth-bounded). */
export function redactValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return redactText(v);
  if (v === null || typeof v !== 'object' || depth > 20) return v;
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  // Only plain objects are copied: errors go to their serializer, Buffers, Dates, Maps pass as they are.
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v))
    out[k] = isSecretKey(k) && x !== null && x !== undefined && typeof x !== 'object' ? REDACTED : redactValue(x, depth + 1);
  return out;
}

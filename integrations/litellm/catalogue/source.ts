import type { FactsOf, Kind } from './facts.js';

/**
 * A place facts come from. `list` returns the whole catalogue of one kind (paging inside);
 * `get` returns one entry, `null` when the source positively does not know the id, and throws
 * {@link SourceError} when it cannot answer (down, slow, unauthorised).
 */
export interface Source {
  readonly type: string;
  /** Whether `list` is available for this kind. */
  canList(kind: Kind): boolean;
  list<K extends Kind>(kind: K, signal: AbortSignal): Promise<FactsOf[K][]>;
  get<K extends Kind>(kind: K, id: string, signal: AbortSignal): Promise<FactsOf[K] | null>;
  /** Optional: starts watching for changes; `onChange` asks the owner to re-list. */
  watch?(onChange: () => void): void;
  close(): Promise<void>;
}

/** A failure to answer. Its message is safe to log: it never contains a secret. */
export class SourceError extends Error {
  override name = 'SourceError';
  constructor(
    message: string,
    /** `unauthorized` (401/403), `timeout`, `unavailable` (connect/5xx), `invalid` (bad answer). */
    readonly reason: 'unauthorized' | 'timeout' | 'unavailable' | 'invalid',
  ) {
    super(message);
  }
}

/**
 * Removes secrets from a message: every given secret value verbatim (and URL-encoded), and any
 * `user:password@` in URLs.
 */
export function redact(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('[redacted]');
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]*:[^/\s@]*@/gi, '$1[redacted]@');
}

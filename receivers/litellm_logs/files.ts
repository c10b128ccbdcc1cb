/** Expanding the configured paths into the list of files to read. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const FILE_RE = /\.(json|ndjson|jsonl)(\.gz)?$/i;

export interface FileEntry {
  path: string;
  size: number;
}

export interface Expanded {
  files: FileEntry[];
  /** Paths that could not be used, with the reason. */
  skipped: { path: string; reason: string }[];
}

/**
 * Files named explicitly are read whatever their extension; directories are walked recursively
 * (sorted, so runs are reproducible) for `*.json`, `*.ndjson`, `*.jsonl`, each optionally `.gz`.
 */
export function expandPaths(paths: string[]): Expanded {
  const files: FileEntry[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      skipped.push({ path: dir, reason: `cannot list directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st;
      try {
        st = statSync(p);
      } catch (e) {
        skipped.push({ path: p, reason: `cannot stat: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && FILE_RE.test(name)) files.push({ path: p, size: st.size });
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      skipped.push({ path: p, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message });
      continue;
    }
    if (st.isDirectory()) walk(p);
    else if (st.isFile()) files.push({ path: p, size: st.size });
    else skipped.push({ path: p, reason: 'not a regular file or directory' });
  }
  return { files, skipped };
}

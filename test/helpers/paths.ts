/** Paths for tests, independent of where the compiled test file lives (dist/ or another outDir). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor with spanmeter's package.json. */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'spanmeter') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the spanmeter repository root');
    dir = up;
  }
}

/** `../shared/conformance/litellm-amberflo` beside the repository, or undefined when absent. */
export function conformanceDir(): string | undefined {
  const d = resolve(repoRoot(), '..', 'shared', 'conformance', 'litellm-amberflo');
  return existsSync(d) ? d : undefined;
}

/** The compiled output root that holds this file (dist/ or .tmp/<name>/). */
export function buildRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

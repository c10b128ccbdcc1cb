/** Paths for tests, independent of where the compiled test file lives (dist/ or another outDir). */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRootOf } from '../../src/repo-root.js';

/** The repository root: the nearest ancestor with spanmeter's package.json. */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  return repoRootOf(from);
}

/**
 * `../shared/conformance/litellm-amberflo` beside the repository, or undefined when absent.
 * SPANMETER_CONFORMANCE_DIR=none runs the tests as a clone with nothing beside it would.
 */
export function conformanceDir(): string | undefined {
  if (process.env.SPANMETER_CONFORMANCE_DIR === 'none') return undefined;
  const d = resolve(repoRoot(), '..', 'shared', 'conformance', 'litellm-amberflo');
  return existsSync(d) ? d : undefined;
}

/**
 * `{ skip }` for a test that needs the conformance set: false when present, else the reason the
 * runner prints beside the skipped test.
 */
export function conformanceSkip(what = 'cross-check'): string | false {
  return conformanceDir() ? false : `${what} needs the conformance set at ../shared/conformance/litellm-amberflo, which is absent (.ci/run has it)`;
}

/** The compiled output root that holds this file (dist/ or .tmp/<name>/). */
export function buildRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

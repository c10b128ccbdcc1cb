import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The spanmeter package root above `from`: the nearest ancestor holding a package.json named
 * "spanmeter" (works from src/, dist/ or any other build directory).
 */
export function repoRootOf(from: string): string {
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
    if (up === dir) throw new Error(`cannot find the spanmeter repository root above ${from}`);
    dir = up;
  }
}

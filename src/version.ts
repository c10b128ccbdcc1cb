import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRootOf } from './repo-root.js';

/** spanmeter's version, from its package.json. */
function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRootOf(fileURLToPath(import.meta.url)), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const VERSION = readVersion();

#!/usr/bin/env node
/**
 * Prints a docs/metrics.md table row for every spanmeter_* metric registered in the sources
 * (src, receivers, processors, exporters; tests excluded) that docs/metrics.md does not list yet,
 * with the type, labels and help text found next to the name. Paste the rows into the right
 * section and add a sentence on how to use the metric. Exit code 1 when rows are missing.
 *
 *   node docs/tools/missing-metrics.mjs
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) {
      if (n !== 'node_modules') walk(p);
    } else if (n.endsWith('.ts') && !n.endsWith('.test.ts') && !n.endsWith('.d.ts')) files.push(p);
  }
};
for (const d of ['src', 'receivers', 'processors', 'exporters']) {
  try {
    walk(join(root, d));
  } catch {
    /* folder absent */
  }
}
const documented = new Set([...readFileSync(join(root, 'docs', 'metrics.md'), 'utf8').matchAll(/^\|\s*`(spanmeter_[a-z0-9_]+)`/gm)].map((m) => m[1]));
const found = new Map();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  for (const m of text.matchAll(/'(spanmeter_[a-z0-9_]*[a-z0-9])'(?:,\s*(?:help:\s*)?\n?\s*'((?:[^'\\]|\\.)*)'(?:,\s*(?:labelNames:?\s*)?\n?\s*(\[[^\]]*\]))?)?/g)) {
    const name = m[1];
    if (documented.has(name) || name.startsWith('spanmeter_process_') || name.startsWith('spanmeter_nodejs_')) continue;
    const prev = found.get(name);
    if (prev && prev.help) continue;
    const near = text.slice(Math.max(0, m.index - 300), m.index + 100);
    const type = /Histogram|histogram\(/.test(near) ? 'histogram' : name.endsWith('_total') ? 'counter' : 'gauge';
    const labels = (m[3] ?? '').replace(/[[\]'"]/g, '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => `\`${s}\``).join(', ');
    found.set(name, { type, labels, help: (m[2] ?? '').replace(/\\'/g, "'").replace(/\|/g, '\\|'), file: relative(root, f) });
  }
}
for (const [name, r] of [...found].sort()) process.stdout.write(`| \`${name}\` | ${r.type} | ${r.labels} | ${r.help || `(see ${r.file})`} |\n`);
process.exitCode = found.size ? 1 : 0;

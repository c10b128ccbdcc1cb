/**
 * Writes (or checks) the documentation generated from declarations: each component README's key
 * table (from its config declaration) and docs/metrics.md's tables (from the core's and each
 * component's metric declarations). `npm run docs` writes; test/generated-docs.test.ts checks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Factory } from './component.js';
import { configTable, withTable } from './config/docs.js';
import { ComponentRegistry, createRegistry } from './registry.js';
import { repoRootOf } from './repo-root.js';
import { CORE_METRIC_SETS } from './telemetry/metadata.js';
import { SERVICE } from './config/service.js';
import type { MetricDeclarations } from './telemetry/declare.js';

export const METRICS_BEGIN = '<!-- generated: metrics (npm run docs) -->';
export const METRICS_END = '<!-- end of generated metrics -->';

const root = repoRootOf(fileURLToPath(import.meta.url));

/** The README of each component: built-ins by folder, plus the example plugin. */
async function readmes(): Promise<{ factory: Factory; file: string }[]> {
  const registry = await createRegistry();
  const out = registry.list().map(({ factory, origin }) => ({ factory, file: join(root, origin, 'README.md') }));
  const plugins = new ComponentRegistry();
  await plugins.loadPlugin('./examples/hash-dimensions/index.js', root);
  for (const { factory } of plugins.list()) out.push({ factory, file: join(root, 'examples', 'hash-dimensions', 'README.md') });
  return out;
}

function metricRows(metrics: MetricDeclarations): string[] {
  return Object.values(metrics)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ')} | ${m.description.replace(/\|/g, '\\|')} |`);
}

/** docs/metrics.md's generated part: the core's metric sets, then each component type's metrics. */
export function metricsTables(factories: readonly Factory[]): string {
  const head = ['| metric | type | labels | meaning |', '|---|---|---|---|'];
  const parts: string[] = [];
  for (const set of CORE_METRIC_SETS) parts.push(...(parts.length ? [''] : []), `## ${set.title}`, '', set.intro, '', ...head, ...metricRows(set.metrics));
  for (const f of [...factories].sort((a, b) => a.kind.localeCompare(b.kind) || a.type.localeCompare(b.type))) {
    if (!f.metrics || Object.keys(f.metrics).length === 0) continue;
    parts.push('', `## ${f.kind} \`${f.type}\``, '', ...head, ...metricRows(f.metrics));
  }
  return parts.join('\n');
}

/** Every generated file whose text differs from what the declarations give: [file, expected text]. */
export async function staleDocs(): Promise<{ file: string; expected: string }[]> {
  const stale: { file: string; expected: string }[] = [];
  const list = await readmes();
  const tables = [
    ...list.map(({ factory, file }) => ({ schema: factory.configSchema, file })),
    { schema: SERVICE, file: join(root, 'docs', 'configuration.md') },
  ];
  for (const { schema, file } of tables) {
    const text = readFileSync(file, 'utf8');
    const expected = withTable(text, configTable(schema));
    if (expected === undefined) stale.push({ file, expected: `${file} has no generated config table markers` });
    else if (expected !== text) stale.push({ file, expected });
  }
  const metricsFile = join(root, 'docs', 'metrics.md');
  const text = readFileSync(metricsFile, 'utf8');
  const i = text.indexOf(METRICS_BEGIN);
  const j = text.indexOf(METRICS_END);
  const expected = i < 0 || j < i ? undefined : `${text.slice(0, i + METRICS_BEGIN.length)}\n${metricsTables(list.map((x) => x.factory))}\n${text.slice(j)}`;
  if (expected === undefined) stale.push({ file: metricsFile, expected: `${metricsFile} has no generated metrics markers` });
  else if (expected !== text) stale.push({ file: metricsFile, expected });
  return stale;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const stale = await staleDocs();
  for (const s of stale) {
    if (s.expected.endsWith('markers')) {
      process.stderr.write(`${s.expected}\n`);
      process.exitCode = 1;
    } else if (process.argv.includes('--check')) {
      process.stderr.write(`stale: ${s.file}\n`);
      process.exitCode = 1;
    } else {
      writeFileSync(s.file, s.expected);
      process.stdout.write(`wrote ${s.file}\n`);
    }
  }
}

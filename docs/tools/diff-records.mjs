#!/usr/bin/env node
/**
 * Compares two sets of Amberflo meter files as multisets of records, ignoring file names, file
 * boundaries and record order (the Amberflo callback names files at random and cuts batches by
 * arrival; spanmeter names them by content).
 *
 *   node docs/tools/diff-records.mjs OLD NEW [--ignore FIELD]... [--since ISO] [--until ISO] [--show N]
 *
 * OLD / NEW: a file or a directory (searched recursively) of .json.gz, .json or .ndjson files, each
 * holding a JSON array of records, one record, or one record per line.
 * --ignore FIELD: leave a field out of the comparison; `uniqueId` or a dimension as
 *   `dimensions.sku`. Repeatable.
 * --since / --until: only records whose meterTimeInMillis falls in [since, until).
 * Exit code: 0 when both sides hold the same records, 1 when they differ, 2 on bad usage.
 * Needs only Node.js (no dependencies).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

function usage(msg) {
  if (msg) process.stderr.write(`diff-records: ${msg}\n`);
  process.stderr.write('usage: node docs/tools/diff-records.mjs OLD NEW [--ignore FIELD]... [--since ISO] [--until ISO] [--show N]\n');
  process.exit(2);
}

const positional = [];
const ignore = [];
let since = -Infinity;
let until = Infinity;
let show = 20;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
  if (a === '--ignore') ignore.push(value());
  else if (a === '--since') since = Date.parse(value());
  else if (a === '--until') until = Date.parse(value());
  else if (a === '--show') show = Number(value());
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else positional.push(a);
}
if (positional.length !== 2) usage('give exactly two paths');
if (Number.isNaN(since) || Number.isNaN(until)) usage('--since/--until must be ISO dates');

function files(p) {
  const st = statSync(p);
  if (st.isFile()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((n) => files(join(p, n)))
    .filter((f) => /\.(json\.gz|json|ndjson|gz)$/.test(f));
}

function recordsOf(file) {
  let buf = readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const text = buf.toString('utf8').trim();
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [v];
  } catch {
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }
}

/** Canonical JSON: sorted keys, ignored fields removed. */
function canonical(rec) {
  const copy = structuredClone(rec);
  for (const f of ignore) {
    const path = f.split('.');
    let o = copy;
    for (const k of path.slice(0, -1)) o = o && typeof o === 'object' ? o[k] : undefined;
    if (o && typeof o === 'object') Reflect.deleteProperty(o, path.at(-1));
  }
  const sort = (v) =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort(v[k])]),
          )
        : v;
  return JSON.stringify(sort(copy));
}

function load(p) {
  const counts = new Map();
  let n = 0;
  const list = files(p);
  for (const f of list) {
    for (const r of recordsOf(f)) {
      const t = Number(r.meterTimeInMillis);
      if (!(t >= since && t < until)) continue;
      const k = canonical(r);
      counts.set(k, (counts.get(k) ?? 0) + 1);
      n++;
    }
  }
  return { counts, n, files: list.length };
}

const [oldSide, newSide] = positional.map(load);
const onlyIn = (a, b) => {
  const out = [];
  for (const [k, c] of a.counts) {
    const d = c - (b.counts.get(k) ?? 0);
    for (let i = 0; i < d; i++) out.push(k);
  }
  return out;
};
const onlyOld = onlyIn(oldSide, newSide);
const onlyNew = onlyIn(newSide, oldSide);
const byMeter = (list) => {
  const m = new Map();
  for (const k of list) {
    const name = JSON.parse(k).meterApiName;
    m.set(name, (m.get(name) ?? 0) + 1);
  }
  return [...m].map(([k, v]) => `${k}: ${v}`).join(', ');
};
process.stdout.write(
  `old: ${oldSide.n} records in ${oldSide.files} files; new: ${newSide.n} records in ${newSide.files} files${ignore.length ? `; ignoring ${ignore.join(', ')}` : ''}\n`,
);
if (!onlyOld.length && !onlyNew.length) {
  process.stdout.write('identical: every record appears on both sides the same number of times\n');
  process.exit(0);
}
process.stdout.write(`only in old: ${onlyOld.length}${onlyOld.length ? ` (${byMeter(onlyOld)})` : ''}\n`);
for (const k of onlyOld.slice(0, show)) process.stdout.write(`- ${k}\n`);
process.stdout.write(`only in new: ${onlyNew.length}${onlyNew.length ? ` (${byMeter(onlyNew)})` : ''}\n`);
for (const k of onlyNew.slice(0, show)) process.stdout.write(`+ ${k}\n`);
process.exit(1);

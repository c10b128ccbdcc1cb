/**
 * Every relative link in the repository's Markdown resolves inside the repository: the file (or
 * folder) exists and, for a `#fragment` into a Markdown file, the heading exists. A clone with
 * nothing beside it must be complete, so a link that leaves the repository fails too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const root = repoRoot();
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'data', '.tmp']);

function markdownFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !(dir === join(root, 'bench') && e.name === 'results')) markdownFiles(join(dir, e.name), out);
    } else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
  }
  return out;
}

/** Markdown text without fenced code blocks (headings and links there are not Markdown). */
const withoutFences = (md: string): string => md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** Markdown text without fenced code blocks and inline code spans (links there are not links). */
export function withoutCode(md: string): string {
  return withoutFences(md).replace(/`+[^`\n]*`+/g, '');
}

/** Link targets of inline links `[text](target "title")` and reference definitions `[x]: target`. */
export function linkTargets(md: string): string[] {
  const text = withoutCode(md);
  const out: string[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) out.push(m[1]!);
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation removed, spaces → '-'. */
export function slug(heading: string): string {
  return heading
    .trim()
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers (headings, with GitHub's -1, -2 for repeats; explicit ids). */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of withoutFences(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of md.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]!);
  return out;
}

/** Text files of the repository (sources, docs, configs), for the wording check below. */
function textFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !(dir === join(root, 'bench') && e.name === 'results') && e.name !== 'fixtures') textFiles(join(dir, e.name), out);
    } else if (/\.(ts|md|ya?ml|mjs|js|json)$/.test(e.name) && e.name !== 'package-lock.json') out.push(join(dir, e.name));
  }
  return out;
}

/** A work journal's wording: numbered sessions and issue numbers belong to the history, not the repository. */
export const JOURNAL =
  /\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|\d+(?:st|nd|rd|th))\s+sessions?\b|\bsessions?\s+\d+\b|\bissue\s+#?\d+\b/i;

const isExternal = (t: string) => /^[a-z][a-z0-9+.-]*:/i.test(t);

describe('Markdown links', () => {
  test('helpers: code is not scanned, anchors follow GitHub', () => {
    assert.deepEqual(linkTargets('see [a](b.md) and `[c](d.md)`\n```\n[e](f.md)\n```\n[g]: h.md'), ['b.md', 'h.md']);
    assert.deepEqual(
      [...anchors("# Output modes: compat and clean\n## The callback's `env`\n## A\n## A\n")],
      ['output-modes-compat-and-clean', 'the-callbacks-env', 'a', 'a-1'],
    );
  });

  test('no work-journal wording (numbered sessions, issue numbers) in sources, docs or configs', () => {
    // (The examples are assembled so that this file does not match itself.)
    const words = (...w: string[]) => w.join(' ');
    assert.ok(JOURNAL.test(words('the', 'eleventh', 'session')) && JOURNAL.test(words('(issue', '7)')) && !JOURNAL.test('read-only sessions are opened'));
    const found: string[] = [];
    for (const f of textFiles(root)) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (JOURNAL.test(line)) found.push(`${relative(root, f)}:${i + 1}: ${line.trim().slice(0, 120)}`);
        });
    }
    assert.deepEqual(found, []);
  });

  const files = markdownFiles(root);
  test('the repository has Markdown to check', () => {
    assert.ok(
      files.some((f) => f.endsWith(`${sep}README.md`)),
      'README.md found',
    );
    assert.ok(files.length > 20, `${files.length} Markdown files`);
  });

  for (const file of files) {
    const rel = relative(root, file);
    test(rel, () => {
      const md = readFileSync(file, 'utf8');
      const broken: string[] = [];
      for (const target of linkTargets(md)) {
        if (isExternal(target)) continue;
        const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
        const resolved = pathPart === '' ? file : pathPart.startsWith('/') ? join(root, decodeURI(pathPart)) : resolve(dirname(file), decodeURI(pathPart));
        const inside = relative(root, resolved);
        if (inside.startsWith('..') || resolve(root, inside) !== resolved) {
          broken.push(`${target}: leaves the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          broken.push(`${target}: ${inside} does not exist`);
          continue;
        }
        if (fragment && resolved.endsWith('.md') && statSync(resolved).isFile()) {
          const a = anchors(readFileSync(resolved, 'utf8'));
          if (!a.has(fragment.toLowerCase())) broken.push(`${target}: no heading #${fragment} in ${inside}`);
        }
      }
      assert.deepEqual(broken, [], `${rel}: broken links`);
    });
  }
});

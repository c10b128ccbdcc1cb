/**
 * The user docs (docs/, deploy/kubernetes/README.md) against the code: the migration guide's
 * shadow run and record diff, run for real on the conformance set; every `spanmeter` command line
 * names a real subcommand and real options; environment variable names exist; relative links and
 * anchors resolve; complete pipeline.yaml examples validate; every component has a row.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, test } from 'node:test';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../src/cli.js';
import { buildRoot, conformanceDir, conformanceSkip, repoRoot } from './helpers/paths.js';
import { freePort, http, waitFor200 } from './helpers/process.js';

const root = repoRoot();
const cliJs = join(buildRoot(), 'src', 'cli.js');
const diffTool = join(root, 'docs', 'tools', 'diff-records.mjs');
const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  temps.push(d);
  return d;
};

const docFiles = [
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
  join(root, 'deploy', 'kubernetes', 'README.md'),
];
const docs = docFiles.map((file) => ({ file, rel: relative(root, file), text: readFileSync(file, 'utf8') }));

/** Fenced code blocks of a markdown text. */
function blocks(md: string): { lang: string; body: string }[] {
  return [...md.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

function diff(args: string[]) {
  const r = spawnSync(process.execPath, [diffTool, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('migration guide: shadow run in compat mode, then diff the records', () => {
  test(
    'records from the documented command equal the expected callback-compatible records; differences are reported',
    { skip: conformanceSkip("the migration diff against the callback's records") },
    async (t) => {
      const conf = conformanceDir()!;
      const cases = readdirSync(conf).filter(
        (d) => existsSync(join(conf, d, 'spans.v1.79.otlp.json')) && existsSync(join(conf, d, 'expected.from-spans.v1.79.json')),
      );
      assert.ok(cases.length > 0);
      const dir = tmp('spanmeter-migration-');
      // The callback's .env (as a user has it), and the command of docs/migrating-from-amberflo-callback.md.
      writeFileSync(
        join(dir, '.env'),
        'AFLO_BACKEND_TYPE=s3\nAFLO_BUCKET_NAME=callback-bucket\nAWS_REGION=us-east-1\nAFLO_HOSTED_ENV=agent1\nAFLO_SEND_OBJECT_METADATA=true\nAFLO_PATH=litellm-metering\n',
      );
      const http4318 = `127.0.0.1:${await freePort()}`;
      const admin = `127.0.0.1:${await freePort()}`;
      const env = {
        PATH: process.env.PATH ?? '',
        AFLO_BACKEND_TYPE: '',
        SPANMETER_MODE: 'compat',
        SPANMETER_OUT_DIR: join(dir, 'shadow'),
        SPANMETER_OTLP_HTTP_ENDPOINT: http4318,
        // not in the documented command (defaults are 127.0.0.1:4317/8888); moved off fixed ports for the test
        SPANMETER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
        SPANMETER_METRICS_ADDRESS: admin,
        SPANMETER_DATA_DIR: join(dir, 'data'),
      };
      const guide = readFileSync(join(root, 'docs', 'migrating-from-amberflo-callback.md'), 'utf8');
      assert.match(guide, /node --env-file=\.env dist\/src\/cli\.js run/, 'the guide still documents this command');
      const child = spawn(process.execPath, [`--env-file=${join(dir, '.env')}`, cliJs, 'run'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdout.on('data', () => undefined);
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await waitFor200(`http://${admin}/health/ready`, 30_000);
        for (const c of cases) {
          const res = await http('POST', `http://${http4318}/v1/traces`, readFileSync(join(conf, c, 'spans.v1.79.otlp.json')), {
            'content-type': 'application/json',
          });
          assert.equal(res.status, 200, `${c}: ${res.body.toString()}`);
        }
        child.kill('SIGTERM');
        assert.equal(await exited, 0, err);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }

      // "Old" files: what a callback-compatible writer produces, one gzip file per request.
      const old = join(dir, 'old');
      for (const c of cases) {
        mkdirSync(join(old, c), { recursive: true });
        writeFileSync(join(old, c, 'merged_logs_00000000.json.gz'), gzipSync(readFileSync(join(conf, c, 'expected.from-spans.v1.79.json'))));
      }
      const same = diff([old, join(dir, 'shadow')]);
      assert.equal(same.code, 0, same.out + same.err);
      assert.match(same.out, /^identical/m);

      // One changed record is reported on both sides, with its meter.
      const first = cases[0]!;
      const recs = JSON.parse(readFileSync(join(conf, first, 'expected.from-spans.v1.79.json'), 'utf8')) as { meterValue: number; meterApiName: string }[];
      recs[recs.length - 1]!.meterValue += 1;
      writeFileSync(join(old, first, 'merged_logs_00000000.json.gz'), gzipSync(JSON.stringify(recs)));
      const changed = diff([old, join(dir, 'shadow')]);
      assert.equal(changed.code, 1);
      assert.match(changed.out, new RegExp(`only in old: 1 \\(${recs.at(-1)!.meterApiName}: 1\\)`));
      assert.match(changed.out, /only in new: 1 /);

      // --since/--until select a window; --ignore hides a field.
      assert.match(
        diff([old, join(dir, 'shadow'), '--since', '2000-01-01T00:00:00Z', '--until', '2000-01-02T00:00:00Z']).out,
        /old: 0 records[\s\S]*identical/,
      );
      assert.equal(diff([old, join(dir, 'shadow'), '--ignore', 'meterValue']).code, 0);
      assert.equal(diff([old]).code, 2, 'bad usage exits 2');

      // Against the real callback's output (from the full log payload): the guide's expected
      // differences; report them, and check that the documented --ignore options are accepted.
      const cb = join(dir, 'callback');
      for (const c of cases) {
        mkdirSync(join(cb, c), { recursive: true });
        writeFileSync(join(cb, c, 'merged_logs_00000000.json.gz'), gzipSync(readFileSync(join(conf, c, 'expected.from-slo.json'))));
      }
      const real = diff([
        cb,
        join(dir, 'shadow'),
        '--ignore',
        'uniqueId',
        '--ignore',
        'dimensions.sku',
        '--ignore',
        'dimensions.platform',
        '--ignore',
        'dimensions.region',
        '--show',
        '3',
      ]);
      assert.ok(real.code === 0 || real.code === 1, real.err);
      t.diagnostic(`callback (from SLO) vs spanmeter (from spans), documented fields ignored: ${real.out.split('\n').slice(0, 3).join(' | ')}`);
    },
  );
});

describe('commands and names in the docs', () => {
  const program = buildProgram();
  const sub = (name: string): Command | undefined => program.commands.find((c) => c.name() === name);

  test('every `spanmeter`/`cli.js` command line uses a real subcommand and real options', () => {
    let checked = 0;
    for (const d of docs) {
      for (const b of blocks(d.text).filter((x) => ['sh', 'bash', ''].includes(x.lang))) {
        const joined = b.body.replace(/\\\n\s*/g, ' ');
        for (const line of joined.split('\n')) {
          const m = /(?:dist\/src\/cli\.js|\bspanmeter(?=\s+(?:run|validate|components|status|backfill)\b))\s+(.*)$/.exec(line);
          if (!m) continue;
          const words = m[1]!.split(/\s+/).filter(Boolean);
          const name = words[0]!;
          const cmd = sub(name);
          if (name === 'backfill' && !cmd) continue; // documented by receivers/litellm_logs; checked when it exists
          assert.ok(cmd, `${d.rel}: "${line.trim()}" uses unknown subcommand "${name}"`);
          for (const w of words.slice(1)) {
            if (!w.startsWith('-')) continue;
            const flag = w.split('=')[0]!;
            assert.ok(
              cmd.options.some((o) => o.long === flag || o.short === flag),
              `${d.rel}: "${line.trim()}": ${name} has no option ${flag}`,
            );
          }
          checked++;
        }
      }
    }
    assert.ok(checked >= 5, `checked ${checked} command lines`);
  });

  test('environment variable names in the docs are read by the code or the configs', () => {
    const sources = [
      readFileSync(join(root, 'pipeline.yaml'), 'utf8'),
      readFileSync(join(root, 'deploy', 'kubernetes', 'configmap.yaml'), 'utf8'),
      readFileSync(join(root, 'deploy', 'playground', 'pipeline.yaml'), 'utf8'),
      ...['src', 'receivers', 'processors', 'exporters'].flatMap((d) => tsFiles(join(root, d)).map((f) => readFileSync(f, 'utf8'))),
    ].join('\n');
    const missing = new Set<string>();
    for (const d of docs) {
      for (const m of d.text.matchAll(/\b((?:SPANMETER|AFLO)_[A-Z0-9_]*[A-Z0-9])\b/g)) if (!sources.includes(m[1]!)) missing.add(`${m[1]} (${d.rel})`);
    }
    assert.deepEqual([...missing], [], 'names used in the docs but read nowhere');
  });

  test('relative links and anchors resolve', (t) => {
    const pending: string[] = [];
    for (const d of docs) {
      for (const m of d.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#');
        const file = path ? resolve(dirname(d.file), path) : d.file;
        if (!existsSync(file)) {
          const inComponent = /^(receivers|processors|exporters)\//.test(relative(root, file));
          assert.ok(inComponent, `${d.rel}: link ${target} does not resolve`);
          pending.push(`${d.rel} → ${relative(root, file)}`);
          continue;
        }
        if (anchor) {
          const text = readFileSync(file, 'utf8');
          const slugs = new Set([...text.matchAll(/^#+\s+(.*)$/gm)].map((h) => slug(h[1]!)));
          assert.ok(slugs.has(anchor) || text.includes(`id="${anchor}"`), `${d.rel}: anchor #${anchor} not found in ${relative(root, file)}`);
        }
      }
    }
    if (pending.length) t.diagnostic(`links to component READMEs not written yet: ${pending.join(', ')}`);
  });

  test('yaml examples parse; complete spanmeter pipelines validate', (t) => {
    let validated = 0;
    for (const d of docs) {
      for (const b of blocks(d.text).filter((x) => x.lang === 'yaml')) {
        const v = parseYaml(b.body) as Record<string, unknown> | null;
        assert.ok(v && typeof v === 'object', `${d.rel}: yaml block parses`);
        const isPipeline = 'service' in v && 'receivers' in v && !/OpenTelemetry Collector config/.test(b.body);
        if (!isPipeline) continue;
        const f = join(tmp('spanmeter-docyaml-'), 'pipeline.yaml');
        writeFileSync(f, b.body);
        const r = spawnSync(process.execPath, [cliJs, 'validate', '--config', f], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
        const missing = [...r.stderr.matchAll(/unknown (receiver|processor|exporter) type "([^"]+)"/g)].map((x) => `${x[1]} ${x[2]}`);
        if (r.status !== 0 && missing.length) {
          t.diagnostic(`${d.rel}: pipeline example not validated, components not built yet: ${missing.join(', ')}`);
          continue;
        }
        assert.equal(r.status, 0, `${d.rel}: pipeline example is invalid:\n${r.stderr}`);
        validated++;
      }
    }
    t.diagnostic(`${validated} pipeline example(s) validated`);
  });

  test('docs/components.md has a row for every component folder', () => {
    const text = readFileSync(join(root, 'docs', 'components.md'), 'utf8');
    for (const kind of ['receivers', 'processors', 'exporters']) {
      for (const type of readdirSync(join(root, kind)).filter((n) => statSync(join(root, kind, n)).isDirectory())) {
        assert.match(text, new RegExp(`^\\| ${kind.slice(0, -1)} \\| \`${type}\` \\|`, 'm'), `docs/components.md lists ${kind}/${type}`);
      }
    }
  });
});

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** GitHub's heading anchor. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/**
 * The Dockerfile, tested without Docker: its final stage's exact ENTRYPOINT + CMD and ENV are run
 * as a local process, with the image's paths mapped onto the build (/app/dist → this build's
 * output, files COPY'd from the context → the repository) and the /data volume onto a temp dir.
 * Ports bound to 0.0.0.0 in the image are replaced by free ports on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildRoot, repoRoot } from './helpers/paths.js';
import { freePort, http, listFiles, readGzipJsonFiles, waitFor200, type Cli } from './helpers/process.js';

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile → stages of instructions (comments dropped, line continuations joined). */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const t = raw.trim();
    if (!buf && (t === '' || t.startsWith('#'))) return;
    if (buf && t.startsWith('#')) return; // comment lines inside a continuation
    if (!buf) start = i + 1;
    if (t.endsWith('\\')) {
      buf += `${t.slice(0, -1)} `;
      return;
    }
    buf += t;
    logical.push({ text: buf, line: start });
    buf = '';
  });
  assert.equal(buf, '', 'Dockerfile ends inside a line continuation');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    assert.ok(m, `Dockerfile line ${line}: cannot parse "${l}"`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(f, `Dockerfile line ${line}: bad FROM`);
      const image = f[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b)!) ?? '');
      stages.push({ from: image, name: f[2], instructions: [] });
      continue;
    }
    if (!stages.length) {
      assert.equal(op, 'ARG', `Dockerfile line ${line}: only ARG may precede the first FROM`);
      const [k, v = ''] = rest.split('=');
      args.set(k!.trim(), v.trim());
      continue;
    }
    stages.at(-1)!.instructions.push({ op, args: rest, line });
  }
  return { args, stages };
}

/** `K=V K2="V 2"` (or the legacy `K V`) → entries. */
function parseEnv(s: string): [string, string][] {
  if (!s.includes('=')) {
    const [k, ...v] = s.split(/\s+/);
    return [[k!, v.join(' ')]];
  }
  const out: [string, string][] = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of s.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
  return out;
}

function execForm(s: string, what: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    assert.fail(`${what} must use the exec (JSON array) form so that signals reach node: ${s}`);
  }
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${what} must be a JSON array of strings`);
  return v;
}

const root = repoRoot();
const dockerfile = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const build = dockerfile.stages[0]!;
const final = dockerfile.stages.at(-1)!;
const of = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op);
const lastOf = (stage: Stage, op: string) => of(stage, op).at(-1);

describe('Dockerfile structure', () => {
  test('multi-stage: npm ci + npm run build, then a runtime stage with production dependencies only', () => {
    assert.ok(dockerfile.stages.length >= 2, 'a build stage and a runtime stage');
    const buildRuns = of(build, 'RUN')
      .map((i) => i.args)
      .join('\n');
    assert.match(buildRuns, /\bnpm ci\b/);
    assert.match(buildRuns, /\bnpm run build\b/);
    const finalRuns = of(final, 'RUN')
      .map((i) => i.args)
      .join('\n');
    assert.match(finalRuns, /\bnpm ci\b[^\n]*--omit=dev/);
    assert.doesNotMatch(finalRuns, /npm run build|tsc/, 'nothing is compiled in the runtime stage');
    // The base image's Node major satisfies package.json's engines (the supported versions).
    const minMajor = Number(/>=\s*(\d+)/.exec(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node)?.[1]);
    for (const s of dockerfile.stages) {
      const m = /^node:(\d+)(\.\d+)*-(slim|alpine)$/.exec(s.from);
      assert.ok(m, `base image ${s.from} is an official node slim/alpine image`);
      assert.ok(Number(m[1]) >= minMajor, `base image ${s.from} is at least Node ${minMajor} (engines)`);
    }
    assert.ok(
      of(final, 'COPY').some((c) => c.args.includes(`--from=${build.name ?? '0'}`) && /\/app\/dist\b/.test(c.args)),
      'the runtime stage copies the compiled output from the build stage',
    );
  });

  test('non-root user, /data volume, ports, stop signal, health check', () => {
    const user = lastOf(final, 'USER')?.args;
    assert.ok(user, 'USER is set');
    assert.doesNotMatch(user, /^(root|0)(:|$)/);
    assert.deepEqual(execForm(lastOf(final, 'VOLUME')!.args, 'VOLUME'), ['/data']);
    const exposed = of(final, 'EXPOSE')
      .flatMap((e) => e.args.split(/\s+/))
      .map((p) => p.replace(/\/tcp$/, ''));
    for (const p of ['4317', '4318', '8888']) assert.ok(exposed.includes(p), `EXPOSE ${p}`);
    assert.equal(lastOf(final, 'STOPSIGNAL')?.args, 'SIGTERM');
    const hc = lastOf(final, 'HEALTHCHECK')!;
    assert.ok(hc, 'HEALTHCHECK is set');
    assert.match(hc.args, /\/health\/ready/);
    assert.doesNotMatch(hc.args, /\b(curl|wget)\b/, 'slim images have neither curl nor wget');
    // The build output, package.json (for the version) and the config are in the image.
    const copies = of(final, 'COPY').map((c) => c.args);
    assert.ok(copies.some((c) => /package\.json/.test(c)));
    assert.ok(
      copies.some((c) => /\/etc\/spanmeter\/pipeline\.yaml$/.test(c)),
      'a default /etc/spanmeter/pipeline.yaml',
    );
  });

  test('.dockerignore keeps local state and secrets out of the build context, but not the sources', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', 'data', '.tmp', '.git']) assert.ok(ignored.includes(p), `.dockerignore lists ${p}`);
    assert.ok(
      ignored.some((p) => p.includes('.env')),
      '.env files are not sent to the builder',
    );
    // Everything the Dockerfile COPYs from the context must not be ignored.
    for (const s of dockerfile.stages) {
      for (const c of of(s, 'COPY').filter((i) => !i.args.startsWith('--from'))) {
        const parts = c.args.split(/\s+/).filter((x) => !x.startsWith('--'));
        for (const src of parts.slice(0, -1)) {
          assert.ok(!ignored.includes(src), `${src} is COPY'd (line ${c.line}) but ignored`);
          assert.ok(existsSync(join(root, src)), `${src} (COPY at line ${c.line}) exists in the repository`);
        }
      }
    }
  });
});

describe('the image start command, run outside Docker', () => {
  const env = new Map<string, string>();
  for (const e of of(final, 'ENV')) for (const [k, v] of parseEnv(e.args)) env.set(k, v);
  const command = [...execForm(lastOf(final, 'ENTRYPOINT')!.args, 'ENTRYPOINT'), ...execForm(lastOf(final, 'CMD')!.args, 'CMD')];
  const workdir = lastOf(final, 'WORKDIR')?.args ?? '/';

  // Image path → local path. /app/dist comes from the build stage (`npm run build` = tsc's
  // outDir, i.e. this test's build root); files COPY'd from the context come from the repository.
  const pathMap: [string, string][] = [];
  let dataDir = '';
  const ports = new Map<string, number>();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'spanmeter-image-data-'));
    for (const c of of(final, 'COPY')) {
      const parts = c.args.split(/\s+/);
      const fromStage = parts.find((p) => p.startsWith('--from='));
      const rest = parts.filter((p) => !p.startsWith('--'));
      const dest = rest.at(-1)!;
      const abs = (p: string) => (isAbsolute(p) ? p : posix.join(workdir, p));
      if (fromStage) {
        assert.equal(rest.length, 2, `COPY ${c.args}: one source`);
        const buildWorkdir = lastOf(build, 'WORKDIR')?.args ?? '/';
        assert.equal(rest[0], posix.join(buildWorkdir, 'dist'), 'the runtime stage copies <build WORKDIR>/dist');
        pathMap.push([abs(dest), buildRoot()]);
      } else {
        const srcs = rest.slice(0, -1);
        if (srcs.length === 1 && !dest.endsWith('/')) pathMap.push([abs(dest), join(root, srcs[0]!)]);
        else for (const s of srcs) pathMap.push([posix.join(abs(dest), posix.basename(s)), join(root, s)]);
      }
    }
    pathMap.push(['/data', dataDir]);
    pathMap.sort((a, b) => b[0].length - a[0].length);
    for (const [k, v] of env) {
      const m = /^0\.0\.0\.0:(\d+)$/.exec(v);
      if (m) ports.set(k, await freePort());
    }
  });

  after(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Maps an absolute image path onto the local filesystem; fails for a path the image does not have. */
  const local = (p: string): string => {
    for (const [img, loc] of pathMap) if (p === img || p.startsWith(`${img}/`)) return loc + p.slice(img.length);
    assert.fail(`the start command uses ${p}, which no COPY or VOLUME of the final stage provides`);
  };

  /** WORKDIR: the folder that holds the image's package.json (the repository root locally). */
  const cwd = () => dirname(local(posix.join(workdir, 'package.json')));

  const localEnv = (): Record<string, string> => {
    const out: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dataDir, HOSTNAME: 'spanmeter-image-test' };
    for (const [k, v] of env) {
      if (ports.has(k)) out[k] = `127.0.0.1:${ports.get(k)}`;
      else out[k] = v.startsWith('/') ? local(v) : v;
    }
    for (const v of Object.values(out)) assert.doesNotMatch(v, /0\.0\.0\.0/, 'the test never binds all interfaces');
    return out;
  };

  test('ENV: OTLP and admin on all interfaces, state on the /data volume', () => {
    assert.equal(env.get('SPANMETER_OTLP_HTTP_ENDPOINT'), '0.0.0.0:4318');
    assert.equal(env.get('SPANMETER_OTLP_GRPC_ENDPOINT'), '0.0.0.0:4317');
    assert.equal(env.get('SPANMETER_METRICS_ADDRESS'), '0.0.0.0:8888');
    assert.equal(env.get('SPANMETER_DATA_DIR'), '/data');
    assert.match(env.get('SPANMETER_OUT_DIR') ?? '', /^\/data\//);
    assert.equal(command[0], 'node');
    assert.ok(command.includes('run'));
  });

  test('the image config and the embedded default it copies read the same env names', () => {
    const cfgArg = command[command.indexOf('--config') + 1];
    assert.ok(cfgArg, 'CMD passes --config');
    const cfg = readFileSync(local(cfgArg), 'utf8');
    for (const k of ['SPANMETER_OTLP_HTTP_ENDPOINT', 'SPANMETER_OTLP_GRPC_ENDPOINT', 'SPANMETER_METRICS_ADDRESS', 'SPANMETER_DATA_DIR', 'SPANMETER_OUT_DIR']) {
      assert.match(cfg, new RegExp(`\\$\\{env:${k}\\b`), `${cfgArg} reads ${k}, which the image sets`);
    }
  });

  test('validate with the image command and env: the image config is valid', async () => {
    const args = command.slice(1).map((a) => (a.startsWith('/') ? local(a) : a));
    const i = args.indexOf('run');
    args[i] = 'validate';
    const r = await runProcess(args, localEnv(), cwd());
    assert.equal(r.code, 0, `validate failed:\n${r.stderr}${r.stdout}`);
    assert.match(r.stdout, /valid/);
  });

  test('starts, answers /health/ready 200, HEALTHCHECK passes, meters a request into /data, exits 0 on SIGTERM', async (t) => {
    const args = command.slice(1).map((a) => (a.startsWith('/') ? local(a) : a));
    const e = localEnv();
    const cli = spawnCli(args, e, cwd());
    try {
      const admin = `http://${e.SPANMETER_METRICS_ADDRESS}`;
      await waitFor200(`${admin}/health/ready`, 30_000, cli);
      assert.equal((await http('GET', `${admin}/health/live`)).status, 200);
      const metrics = (await http('GET', `${admin}/metrics`)).body.toString();
      assert.match(metrics, /^spanmeter_build_info\{version="[^"]+"\} 1$/m);

      // The HEALTHCHECK command itself, with the container's env.
      const hc = lastOf(final, 'HEALTHCHECK')!.args.replace(/^(--\S+\s+)*CMD\s+/, '');
      const hcCmd = execForm(hc, 'HEALTHCHECK CMD');
      assert.equal(hcCmd[0], 'node');
      const ok = await runProcess(hcCmd.slice(1), e, cwd());
      assert.equal(ok.code, 0, `HEALTHCHECK failed while ready: ${ok.stderr}`);

      // The example LiteLLM request through the OTLP/HTTP port: the records must land under /data.
      const body = readFileSync(join(root, 'examples', 'requests', 'litellm-v1.79-chat.otlp.json'));
      const res = await http('POST', `http://${e.SPANMETER_OTLP_HTTP_ENDPOINT}/v1/traces`, body, { 'content-type': 'application/json' });
      assert.equal(res.status, 200, res.body.toString());
      assert.ok(existsSync(join(dataDir, 'wal')) && statSync(join(dataDir, 'wal')).isDirectory(), 'the write-ahead log lives under SPANMETER_DATA_DIR/wal');

      cli.child.kill('SIGTERM');
      const { code, signal } = await cli.exited;
      assert.equal(signal, null, `exited by signal ${signal}`);
      assert.equal(code, 0, `exit code after SIGTERM\n${cli.stderr()}`);

      const failed = await runProcess(hcCmd.slice(1), e, cwd());
      assert.notEqual(failed.code, 0, 'HEALTHCHECK fails when nothing answers');

      {
        // The embedded default writes files; with another default sink, look for the spool.
        const out = local(env.get('SPANMETER_OUT_DIR')!);
        const files = readGzipJsonFiles(out);
        if (files.length) {
          assert.ok(
            files.every((f) => /\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}\/merged_logs_[0-9a-f]{8}\.json\.gz$/.test(f.file)),
            files.map((f) => f.file).join(', '),
          );
          const n = files.flatMap((f) => f.records).length;
          assert.ok(n > 0);
          t.diagnostic(`${n} meter record(s) in ${files.length} file(s) under SPANMETER_OUT_DIR`);
        } else {
          t.diagnostic(`no files under SPANMETER_OUT_DIR; data dir holds: ${listFiles(dataDir).join(', ')}`);
          assert.ok(listFiles(join(dataDir, 'exporters')).length > 0 || listFiles(join(dataDir, 'wal')).length > 0, 'the accepted request is on the volume');
        }
      }
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });
});

function spawnCli(args: string[], env: Record<string, string>, cwd: string): Cli {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runProcess(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env, cwd);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

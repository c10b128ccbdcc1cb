/**
 * Deployment artifacts against the code: Kubernetes manifests (structure, probes, ports, the
 * ConfigMap's pipeline.yaml, run for real on 127.0.0.1), the docker-compose playground (structure,
 * and its spanmeter config run against a local Azurite), the Grafana dashboard and Prometheus rules
 * (every metric they use is declared: the core's sets or a component type's metadata.ts) and
 * docs/metrics.md (a row for exactly the declared metrics).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseDuration } from '../src/config/duration.js';
import { createRegistry } from '../src/registry.js';
import { PROCESS_METRICS_PREFIX } from '../src/telemetry/metrics.js';
import { CORE_METRIC_SETS } from '../src/telemetry/metadata.js';
import { LocalAzurite } from './helpers/azurite.js';
import { buildRoot, repoRoot } from './helpers/paths.js';
import { freePort, http, waitFor200 } from './helpers/process.js';

type Obj = Record<string, unknown>;
const root = repoRoot();
const deployDir = join(root, 'deploy');
const cliJs = join(buildRoot(), 'src', 'cli.js');
const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};

const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Obj)[k] : undefined), o);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const str = (v: unknown, what: string): string => {
  assert.equal(typeof v, 'string', `${what} must be a string`);
  return v as string;
};

/** `${env:NAME:-default}` defaults of a pipeline.yaml text. */
function envDefaults(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g)) out.set(m[1]!, m[2] ?? '');
  return out;
}

/** Runs `node <build>/src/cli.js args` to completion with exactly `env` (plus PATH). */
function cli(args: string[], env: Record<string, string>, cwd = root) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Validates a pipeline.yaml text; t.skip (with the reason) when it names components not built yet. */
function validateOrSkip(t: TestContext, text: string, env: Record<string, string>, what: string): boolean {
  const file = join(tmp('spanmeter-validate-'), 'pipeline.yaml');
  writeFileSync(file, text);
  const r = cli(['validate', '--config', file], env);
  const missing = [...r.stderr.matchAll(/unknown (receiver|processor|exporter) type "([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
  if (r.code !== 0 && missing.length) {
    t.skip(`${what}: components not built yet (${missing.join(', ')}); validation skipped`);
    return false;
  }
  assert.equal(r.code, 0, `${what} is invalid:\n${r.stderr}`);
  assert.match(r.stdout, /valid/);
  return true;
}

function spawnRun(configText: string, env: Record<string, string>) {
  const dir = tmp('spanmeter-run-');
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, configText);
  const child = spawn(process.execPath, [cliJs, 'run', '--config', file], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** host:port → port. */
const portOf = (addr: string) => Number(/:(\d+)$/.exec(addr)?.[1]);

/** Replace every 0.0.0.0:<port> in env values by a free 127.0.0.1 port (tests never bind all interfaces). */
async function localizePorts(env: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = /^0\.0\.0\.0:\d+$/.test(v) ? `127.0.0.1:${await freePort()}` : v;
  return out;
}

// ---------------------------------------------------------------- Kubernetes

const k8sDir = join(deployDir, 'kubernetes');
const manifests: { file: string; doc: Obj }[] = [];
for (const f of readdirSync(k8sDir)
  .filter((n) => /\.ya?ml$/.test(n) && n !== 'kustomization.yaml')
  .sort()) {
  for (const d of parseAllDocuments(readFileSync(join(k8sDir, f), 'utf8'))) {
    assert.equal(d.errors.length, 0, `${f}: ${d.errors.map((e) => e.message).join('; ')}`);
    const doc = d.toJS() as Obj | null;
    if (doc) manifests.push({ file: f, doc });
  }
}
const ofKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
const one = (kind: string) => {
  const l = ofKind(kind);
  assert.equal(l.length, 1, `exactly one ${kind}`);
  return l[0]!;
};
const matches = (selector: unknown, labels: unknown) =>
  !!selector &&
  typeof selector === 'object' &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector as Obj).every(([k, v]) => (labels as Obj | undefined)?.[k] === v);

describe('Kubernetes manifests', () => {
  const sts = one('StatefulSet');
  const podSpec = get(sts, 'spec.template.spec') as Obj;
  const podLabels = get(sts, 'spec.template.metadata.labels');
  const container = arr(podSpec.containers)[0]!;
  const containerPorts = arr(container.ports);
  const cm = one('ConfigMap');
  const pipelineText = str((cm.data as Obj | undefined)?.['pipeline.yaml'], 'ConfigMap data["pipeline.yaml"]');
  const defaults = envDefaults(pipelineText);
  const containerEnv = new Map(arr(container.env).map((e) => [str(e.name, 'env name'), e.value as string]));
  /** The value spanmeter sees for a variable: container env, else the pipeline.yaml default. */
  const effective = (name: string) => containerEnv.get(name) ?? defaults.get(name);
  const portByName = (p: unknown): Obj | undefined => containerPorts.find((cp) => (typeof p === 'number' ? cp.containerPort === p : cp.name === p));

  test('every manifest parses and has apiVersion, kind, metadata.name; kustomization lists every file', () => {
    assert.ok(manifests.length >= 6);
    for (const { file, doc } of manifests) {
      assert.ok(typeof doc.apiVersion === 'string' && typeof doc.kind === 'string', `${file}: apiVersion and kind`);
      assert.match(String(get(doc, 'metadata.name')), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${file}: metadata.name is a DNS label`);
    }
    const kust = parseYaml(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8')) as Obj;
    const listed = new Set(arr(kust.resources) as unknown as string[]);
    for (const f of new Set(manifests.map((m) => m.file))) if (!f.endsWith('.example.yaml')) assert.ok(listed.has(f), `kustomization.yaml lists ${f}`);
    for (const f of listed) assert.ok(existsSync(join(k8sDir, f)), `kustomization resource ${f} exists`);
    for (const kind of ['StatefulSet', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'ServiceMonitor']) assert.ok(ofKind(kind).length, `a ${kind}`);
  });

  test('kubectl kustomize renders the set (when kubectl is installed)', (t) => {
    const r = spawnSync('kubectl', ['kustomize', k8sDir], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) {
      t.skip(`kubectl not available (${r.error.message})`);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const kinds = parseAllDocuments(r.stdout).map((d) => (d.toJS() as Obj).kind);
    for (const k of ['StatefulSet', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule'])
      assert.ok(kinds.includes(k), `rendered ${k}`);
  });

  test('StatefulSet: selector, a volume per replica at the data dir, config mount, secrets, security, resources', () => {
    assert.ok(matches(get(sts, 'spec.selector.matchLabels'), podLabels), 'selector matches the pod labels');
    const svcName = str(get(sts, 'spec.serviceName'), 'serviceName');
    const governing = ofKind('Service').find((s) => get(s, 'metadata.name') === svcName);
    assert.ok(governing, `serviceName ${svcName} is a Service here`);
    assert.equal(get(governing, 'spec.clusterIP'), 'None', 'the governing Service is headless');

    const mounts = arr(container.volumeMounts);
    const claims = arr(get(sts, 'spec.volumeClaimTemplates'));
    const dataDir = effective('SPANMETER_DATA_DIR');
    assert.ok(dataDir, 'SPANMETER_DATA_DIR is set or defaulted');
    const dataMount = mounts.find((m) => m.mountPath === dataDir);
    assert.ok(dataMount, `a volume is mounted at the data dir ${dataDir}`);
    assert.ok(
      claims.some((c) => get(c, 'metadata.name') === dataMount.name),
      'the data dir comes from a volumeClaimTemplate (one volume per replica)',
    );
    assert.deepEqual(get(claims[0], 'spec.accessModes'), ['ReadWriteOnce']);
    const outDir = effective('SPANMETER_OUT_DIR') ?? '';
    assert.ok(outDir.startsWith(`${dataDir}/`), 'file output stays on the replica volume');

    // --config points into the ConfigMap mount, at the key that holds pipeline.yaml.
    const args = arr(container.args) as unknown as string[];
    const cfgPath = args[args.indexOf('--config') + 1];
    assert.ok(cfgPath, 'args pass --config');
    const cfgMount = mounts.find((m) => cfgPath.startsWith(`${String(m.mountPath)}/`));
    assert.ok(cfgMount, `${cfgPath} is inside a volume mount`);
    const vol = arr(podSpec.volumes).find((v) => v.name === cfgMount.name);
    assert.equal(get(vol, 'configMap.name'), get(cm, 'metadata.name'), 'the config mount is the ConfigMap');
    assert.ok(cfgPath.endsWith('/pipeline.yaml'), 'the ConfigMap key pipeline.yaml is the file passed to --config');

    const secretRefs = arr(container.envFrom).map((e) => get(e, 'secretRef.name'));
    const secret = one('Secret');
    assert.ok(secretRefs.includes(get(secret, 'metadata.name')), 'envFrom references the Secret template');

    assert.equal(get(podSpec, 'securityContext.runAsNonRoot'), true);
    assert.equal(get(container, 'securityContext.allowPrivilegeEscalation'), false);
    for (const k of ['requests.cpu', 'requests.memory', 'limits.memory']) assert.ok(get(container, `resources.${k}`), `resources.${k}`);
  });

  test('terminationGracePeriodSeconds exceeds the ConfigMap shutdown_timeout', () => {
    const cfg = parseYaml(pipelineText) as Obj;
    const timeout = get(cfg, 'service.shutdown_timeout');
    const ms = typeof timeout === 'string' ? parseDuration(timeout) : 30_000;
    const grace = Number(podSpec.terminationGracePeriodSeconds);
    assert.ok(grace * 1000 >= ms + 5_000, `grace ${grace}s must exceed shutdown_timeout ${ms} ms with margin`);
  });

  test('ports: every container port is served by the config and every served port is declared', () => {
    const served = new Map<number, string>();
    for (const name of ['SPANMETER_OTLP_HTTP_ENDPOINT', 'SPANMETER_OTLP_GRPC_ENDPOINT', 'SPANMETER_METRICS_ADDRESS']) {
      const v = effective(name);
      assert.ok(v, `${name} is set or defaulted`);
      assert.match(v, /^0\.0\.0\.0:\d+$/, `${name} binds all interfaces in the pod`);
      assert.ok(pipelineText.includes(`\${env:${name}`), `the ConfigMap reads ${name}`);
      served.set(portOf(v), name);
    }
    for (const cp of containerPorts)
      assert.ok(served.has(Number(cp.containerPort)), `containerPort ${String(cp.containerPort)} (${String(cp.name)}) is served`);
    for (const [p, name] of served) assert.ok(portByName(p), `${name} port ${p} is declared as a containerPort`);
  });

  test('probes: liveness /health/live and readiness /health/ready on the admin port', () => {
    const admin = portOf(effective('SPANMETER_METRICS_ADDRESS')!);
    for (const [probe, path] of [
      ['livenessProbe', '/health/live'],
      ['readinessProbe', '/health/ready'],
    ] as const) {
      assert.equal(get(container, `${probe}.httpGet.path`), path, `${probe} path`);
      const port = portByName(get(container, `${probe}.httpGet.port`));
      assert.ok(port, `${probe} port is a declared container port`);
      assert.equal(port.containerPort, admin, `${probe} targets the admin port ${admin}`);
    }
    if (container.startupProbe) assert.match(String(get(container, 'startupProbe.httpGet.path')), /^\/health\/(live|ready)$/);
  });

  test('Services select the pods and target declared container ports; OTLP 4317/4318 exposed', () => {
    const services = ofKind('Service');
    for (const s of services) {
      assert.ok(matches(get(s, 'spec.selector'), podLabels), `Service ${String(get(s, 'metadata.name'))} selects the pods`);
      for (const p of arr(get(s, 'spec.ports'))) {
        const target = portByName(p.targetPort ?? p.port);
        assert.ok(target, `Service ${String(get(s, 'metadata.name'))} port ${String(p.name)} targets a container port`);
      }
    }
    const main = services.find((s) => get(s, 'spec.clusterIP') !== 'None')!;
    const ports = arr(get(main, 'spec.ports')).map((p) => p.port);
    assert.ok(ports.includes(4317) && ports.includes(4318), 'the client-facing Service exposes 4317 and 4318');
  });

  test('OTLP requires the bearer token from the Secret; the NetworkPolicy example admits OTLP and the admin port only', () => {
    assert.match(pipelineText, /auth:\s*\n\s*bearer_token: \$\{env:SPANMETER_OTLP_TOKEN\}/, 'the ConfigMap requires SPANMETER_OTLP_TOKEN (no default)');
    assert.ok(((get(one('Secret'), 'stringData') as Obj).SPANMETER_OTLP_TOKEN as string).length > 0, 'the Secret template carries it');
    assert.ok(
      arr(container.envFrom).some((e) => get(e, 'secretRef.name') === get(one('Secret'), 'metadata.name')),
      'the pod reads the Secret',
    );
    const np = one('NetworkPolicy');
    assert.ok(matches(get(np, 'spec.podSelector.matchLabels'), podLabels), 'the policy selects the pods');
    const ports = arr(get(np, 'spec.ingress')).flatMap((r) => arr(r.ports).map((p) => p.port));
    assert.deepEqual([...ports].sort(), [4317, 4318, 8888]);
    for (const svc of ofKind('Service'))
      assert.ok(['ClusterIP', undefined].includes(get(svc, 'spec.type') as string | undefined), 'the admin port is cluster-internal (ClusterIP services only)');
  });

  test('PodDisruptionBudget and ServiceMonitor select the right objects', () => {
    const pdb = one('PodDisruptionBudget');
    assert.ok(matches(get(pdb, 'spec.selector.matchLabels'), podLabels));
    assert.ok(get(pdb, 'spec.maxUnavailable') !== undefined || get(pdb, 'spec.minAvailable') !== undefined);
    const sm = one('ServiceMonitor');
    const selected = ofKind('Service').filter((s) => matches(get(sm, 'spec.selector.matchLabels'), get(s, 'metadata.labels')));
    assert.equal(selected.length, 1, 'the ServiceMonitor selects exactly one Service (no duplicate scrapes)');
    for (const ep of arr(get(sm, 'spec.endpoints'))) {
      const sp = arr(get(selected[0], 'spec.ports')).find((p) => p.name === ep.port);
      assert.ok(sp, `ServiceMonitor endpoint port ${String(ep.port)} is a named port of the Service`);
      assert.equal(portByName(sp.targetPort)?.containerPort, portOf(effective('SPANMETER_METRICS_ADDRESS')!), 'scrapes the admin port');
      assert.equal(ep.path ?? '/metrics', '/metrics');
    }
  });

  test('the ConfigMap reads every environment variable the embedded default reads (the same .env works)', () => {
    const embedded = envDefaults(readFileSync(join(root, 'pipeline.yaml'), 'utf8'));
    const missing = [...embedded.keys()].filter((k) => !defaults.has(k));
    assert.deepEqual(missing, [], 'variables of the root pipeline.yaml that the ConfigMap ignores');
  });

  test('PrometheusRule carries exactly the groups of deploy/prometheus/alerts.yaml', () => {
    const rules = parseYaml(readFileSync(join(deployDir, 'prometheus', 'alerts.yaml'), 'utf8')) as Obj;
    assert.deepEqual(get(one('PrometheusRule'), 'spec.groups'), rules.groups, 'regenerate prometheusrule.yaml from alerts.yaml');
  });

  test('Secret template: the callback env names, each read by the ConfigMap pipeline or the cloud SDKs', () => {
    const data = get(one('Secret'), 'stringData') as Obj;
    const keys = Object.keys(data);
    for (const k of [
      'AFLO_BACKEND_TYPE',
      'AFLO_BUCKET_NAME',
      'AFLO_CONTAINER_NAME',
      'AFLO_PATH',
      'AFLO_HOSTED_ENV',
      'AFLO_SEND_OBJECT_METADATA',
      'AFLO_BATCH_SIZE',
      'AFLO_FLUSH_INTERVAL',
      'AWS_REGION',
      'AZURE_STORAGE_CONNECTION_STRING',
      'AFLO_API_KEY',
      'AFLO_API_ENDPOINT',
    ]) {
      assert.ok(keys.includes(k), `Secret template has ${k}`);
    }
    const readBySdk = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
    for (const k of keys) assert.ok(readBySdk.has(k) || defaults.has(k), `${k} is read by the ConfigMap's pipeline.yaml`);
    for (const v of Object.values(data)) assert.equal(typeof v, 'string', 'stringData values are strings');
  });

  test("the ConfigMap's pipeline.yaml passes `spanmeter validate` for every AFLO_BACKEND_TYPE", (t) => {
    const secret = get(one('Secret'), 'stringData') as Record<string, string>;
    // The OTLP token comes from the Secret (envFrom) in every case.
    const base = {
      ...(Object.fromEntries([...containerEnv].filter(([, v]) => typeof v === 'string')) as Record<string, string>),
      SPANMETER_OTLP_TOKEN: secret.SPANMETER_OTLP_TOKEN!,
    };
    const cases: Record<string, Record<string, string>> = {
      'unset (files)': { ...base, AFLO_BACKEND_TYPE: '' },
      'the Secret template (s3)': { ...base, ...secret },
      'azure-blob': { ...base, AFLO_BACKEND_TYPE: 'azure-blob', AFLO_CONTAINER_NAME: 'c', AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
      api: { ...base, AFLO_BACKEND_TYPE: 'api', AFLO_API_KEY: 'k' },
    };
    for (const [name, env] of Object.entries(cases))
      if (!validateOrSkip(t, pipelineText, env, `ConfigMap pipeline.yaml with AFLO_BACKEND_TYPE ${name}`)) return;
    const bad = join(tmp('spanmeter-validate-'), 'pipeline.yaml');
    writeFileSync(bad, pipelineText);
    const r = cli(['validate', '--config', bad], { ...base, AFLO_BACKEND_TYPE: 's4' });
    assert.equal(r.code, 1, 'a mistyped AFLO_BACKEND_TYPE is a configuration error');
  });

  test('the pod, run locally with its env and the ConfigMap: probe paths answer 200 on the probe port', async (t) => {
    const env = await localizePorts(Object.fromEntries([...containerEnv].filter(([, v]) => typeof v === 'string')));
    const data = tmp('spanmeter-k8s-data-');
    env.SPANMETER_DATA_DIR = data;
    env.SPANMETER_OUT_DIR = join(data, 'out');
    env.HOSTNAME = 'spanmeter-0';
    env.SPANMETER_OTLP_TOKEN = String((get(one('Secret'), 'stringData') as Obj).SPANMETER_OTLP_TOKEN);
    const check = cli(['validate', '--config', writeTemp(pipelineText)], env);
    if (check.code !== 0 && /unknown (receiver|processor|exporter) type/.test(check.stderr)) {
      t.skip(`components not built yet: ${check.stderr.split('\n')[1] ?? ''}`);
      return;
    }
    const run = spawnRun(pipelineText, env);
    try {
      const admin = `http://${env.SPANMETER_METRICS_ADDRESS}`;
      await waitFor200(`${admin}${String(get(container, 'readinessProbe.httpGet.path'))}`, 30_000, run);
      assert.equal((await http('GET', `${admin}${String(get(container, 'livenessProbe.httpGet.path'))}`)).status, 200);
      const metrics = (await http('GET', `${admin}/metrics`)).body.toString();
      assert.match(metrics, /spanmeter_build_info/);
      const status = JSON.parse((await http('GET', `${admin}/status`)).body.toString()) as Obj;
      assert.equal(status.instanceId, 'spanmeter-0', 'the instance id is the pod name (HOSTNAME)');
      run.child.kill('SIGTERM');
      assert.deepEqual(await run.exited, { code: 0, signal: null });
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });
});

function writeTemp(text: string): string {
  const f = join(tmp('spanmeter-cfg-'), 'pipeline.yaml');
  writeFileSync(f, text);
  return f;
}

// ---------------------------------------------------------------- docker-compose playground

describe('docker-compose playground', () => {
  const composeFile = join(deployDir, 'docker-compose.yaml');
  const compose = parseYaml(readFileSync(composeFile, 'utf8')) as Obj;
  const services = compose.services as Record<string, Obj>;
  const dockerfileEnv = new Map<string, string>();
  for (const m of readFileSync(join(root, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .matchAll(/^ENV\s+(.+)$/gm)) {
    for (const kv of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) dockerfileEnv.set(kv[1]!, kv[2]!);
  }
  const envOf = (svc: Obj): Record<string, string> => {
    const e = svc.environment;
    if (Array.isArray(e)) return Object.fromEntries((e as string[]).map((x) => [x.split('=')[0]!, x.slice(x.indexOf('=') + 1)]));
    return Object.fromEntries(Object.entries((e ?? {}) as Obj).map(([k, v]) => [k, String(v ?? '')]));
  };
  /** `./x:/y[:ro]` bind mounts → [host path (resolved), container path]. */
  const binds = (svc: Obj) =>
    arr(svc.volumes)
      .map((v) => String(v as unknown))
      .filter((v) => v.startsWith('.') || v.startsWith('/'))
      .map((v) => {
        const [host, target] = v.split(':');
        return [resolve(deployDir, host!), target!] as const;
      });
  const spanmeter = services.spanmeter!;
  const spanmeterEnv = { ...Object.fromEntries(dockerfileEnv), ...envOf(spanmeter) };
  const spanmeterConfig = (): string => {
    const cmd = (spanmeter.command as string[] | undefined) ?? [];
    const target = cmd[cmd.indexOf('--config') + 1] ?? '/etc/spanmeter/pipeline.yaml';
    const bind = binds(spanmeter).find(([, c]) => c === target);
    assert.ok(bind, `spanmeter's --config ${target} is bind-mounted from deploy/`);
    return readFileSync(bind[0], 'utf8');
  };

  test('services: litellm, spanmeter built from the Dockerfile, and an object store', () => {
    assert.ok(services.litellm && services.spanmeter, 'litellm and spanmeter services');
    assert.match(String(services.litellm.image), /^ghcr\.io\/berriai\/litellm(-database)?:/);
    const b = spanmeter.build as Obj;
    assert.ok(existsSync(join(resolve(deployDir, String(b.context)), String(b.dockerfile ?? 'Dockerfile'))), 'build context holds the Dockerfile');
    assert.equal(resolve(deployDir, String(b.context)), root);
    const store = Object.entries(services).find(([, s]) => /azurite|minio|localstack|s3/i.test(String(s.image)));
    assert.ok(store, 'an Azurite or S3-compatible service');
    for (const [name, s] of Object.entries(services)) {
      for (const p of arr(s.ports).map(String)) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} on loopback only`);
    }
  });

  test('LiteLLM points its otel callback at the spanmeter service and port', () => {
    const lenv = envOf(services.litellm!);
    assert.equal(lenv.OTEL_EXPORTER, 'otlp_http');
    const url = new URL(lenv.OTEL_ENDPOINT!);
    assert.equal(url.hostname, 'spanmeter', 'OTEL_ENDPOINT names the spanmeter service');
    assert.equal(
      Number(url.port),
      portOf(spanmeterEnv.SPANMETER_OTLP_HTTP_ENDPOINT ?? envDefaults(spanmeterConfig()).get('SPANMETER_OTLP_HTTP_ENDPOINT')!),
      'and the port its OTLP/HTTP receiver listens on',
    );
    assert.ok(['', '/'].includes(url.pathname), 'LiteLLM ≥ 1.79 appends /v1/traces itself');
    const cmd = services.litellm!.command as string[];
    const cfgTarget = cmd[cmd.indexOf('--config') + 1];
    const bind = binds(services.litellm!).find(([, c]) => c === cfgTarget);
    assert.ok(bind && existsSync(bind[0]), 'the LiteLLM config is bind-mounted from deploy/');
    const lcfg = parseYaml(readFileSync(bind[0], 'utf8')) as Obj;
    assert.ok((get(lcfg, 'litellm_settings.callbacks') as string[]).includes('otel'), 'callbacks: ["otel"]');
    assert.ok(arr(lcfg.model_list).length > 0, 'at least one model');
    const dep = get(services.litellm, 'depends_on.spanmeter.condition');
    if (dep === 'service_healthy')
      assert.match(readFileSync(join(root, 'Dockerfile'), 'utf8'), /^HEALTHCHECK /m, 'service_healthy needs the image HEALTHCHECK');
  });

  test('spanmeter keeps its state on a named volume at the data dir; storage endpoint names a compose service', () => {
    const dataDir = spanmeterEnv.SPANMETER_DATA_DIR ?? '/data';
    const named = arr(spanmeter.volumes)
      .map(String)
      .find((v) => !v.startsWith('.') && !v.startsWith('/') && v.split(':')[1] === dataDir);
    assert.ok(named, `a named volume at ${dataDir}`);
    assert.ok(Object.keys(compose.volumes ?? {}).includes(named.split(':')[0]!), 'declared under volumes:');
    const cs = spanmeterEnv.AZURE_STORAGE_CONNECTION_STRING;
    if (cs) {
      const ep = new URL(/BlobEndpoint=([^;]+)/.exec(cs)![1]!);
      const svc = services[ep.hostname];
      assert.ok(svc, `BlobEndpoint host ${ep.hostname} is a compose service`);
      assert.ok(
        JSON.stringify(svc.command ?? '').includes(ep.port) || arr(svc.ports).some((p) => String(p).endsWith(`:${ep.port}`)),
        `${ep.hostname} listens on ${ep.port}`,
      );
      assert.equal(spanmeterEnv.AFLO_BACKEND_TYPE, 'azure-blob');
    }
  });

  test("the playground's spanmeter config is valid with the compose env", (t) => {
    validateOrSkip(t, spanmeterConfig(), spanmeterEnv, 'deploy/playground pipeline.yaml');
  });

  test('the playground pipeline end to end (without Docker): OTLP in, gzip JSON blobs in a local Azurite', async (t) => {
    if (!LocalAzurite.available()) {
      t.skip('azurite is not installed');
      return;
    }
    const env = await localizePorts(spanmeterEnv);
    const check = cli(['validate', '--config', writeTemp(spanmeterConfig())], env);
    if (check.code !== 0 && /unknown (receiver|processor|exporter) type/.test(check.stderr)) {
      t.skip('components not built yet');
      return;
    }
    const azurite = await new LocalAzurite().start();
    const data = tmp('spanmeter-playground-');
    let run: ReturnType<typeof spawnRun> | undefined;
    try {
      env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
      env.SPANMETER_DATA_DIR = data;
      env.SPANMETER_OUT_DIR = join(data, 'out');
      run = spawnRun(spanmeterConfig(), env);
      await waitFor200(`http://${env.SPANMETER_METRICS_ADDRESS}/health/ready`, 30_000, run);
      const body = readFileSync(join(repoRoot(), 'examples', 'requests', 'litellm-v1.79-chat.otlp.json'));
      const denied = await http('POST', `http://${env.SPANMETER_OTLP_HTTP_ENDPOINT}/v1/traces`, body, { 'content-type': 'application/json' });
      assert.equal(denied.status, 401, 'the playground requires the bearer token');
      const res = await http('POST', `http://${env.SPANMETER_OTLP_HTTP_ENDPOINT}/v1/traces`, body, {
        'content-type': 'application/json',
        authorization: `Bearer ${env.SPANMETER_OTLP_TOKEN}`,
      });
      assert.equal(res.status, 200);
      run.child.kill('SIGTERM'); // cuts the open batch and uploads it
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
      const { BlobServiceClient } = await import('@azure/storage-blob');
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(env.AFLO_CONTAINER_NAME!);
      const names: string[] = [];
      for await (const b of container.listBlobsFlat()) names.push(b.name);
      assert.equal(names.length, 1, `one object: ${names.join(', ')}`);
      assert.match(names[0]!, new RegExp(`^${env.AFLO_PATH}/\\d{4}/\\d{2}/\\d{2}/\\d{2}/\\d{2}/merged_logs_[0-9a-f]{8}\\.json\\.gz$`));
      const props = await container.getBlobClient(names[0]!).getProperties();
      assert.equal(props.contentEncoding, 'gzip');
    } finally {
      if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await azurite.stop();
    }
  });
});

// ---------------------------------------------------------------- metrics: dashboard, alerts, docs

interface KnownMetric {
  name: string;
  /** Where it is declared: a core set, a component type, or prom-client's process metrics. */
  from: string;
}

const PROCESS = 'prom-client collectDefaultMetrics';

/**
 * Every metric spanmeter exports: the core's declarations, each registered component type's
 * (its metadata.ts), and prom-client's process metrics under the service's prefix.
 */
async function knownMetrics(): Promise<{ known: Map<string, KnownMetric>; undeclared: string[] }> {
  const out = new Map<string, KnownMetric>();
  const undeclared: string[] = [];
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix: PROCESS_METRICS_PREFIX });
  for (const m of r.getMetricsAsArray()) out.set(m.name, { name: m.name, from: PROCESS });
  for (const set of CORE_METRIC_SETS) for (const d of Object.values(set.metrics)) out.set(d.name, { name: d.name, from: `core: ${set.title}` });
  for (const { factory: f } of (await createRegistry()).list()) {
    if (!f.metrics) undeclared.push(`${f.kind} ${f.type}`);
    for (const d of Object.values(f.metrics ?? {})) out.set(d.name, { name: d.name, from: `${f.kind} ${f.type}` });
  }
  return { known: out, undeclared };
}

/** Metric names used in PromQL text; histogram series suffixes map to their family. */
function promqlMetrics(expr: string, known: Map<string, KnownMetric>): { name: string; family: string }[] {
  return [...expr.matchAll(/\b(spanmeter_[a-z0-9_]+|kubelet_[a-z0-9_]+|up)\b(?=\s*[{[)\s]|$)/g)].map((m) => {
    const name = m[1]!;
    const fam = known.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    return { name, family: fam };
  });
}

/** Metrics from outside spanmeter that the dashboard and rules may use. */
const EXTERNAL = new Set(['up', 'kubelet_volume_stats_used_bytes', 'kubelet_volume_stats_capacity_bytes', 'kubelet_volume_stats_available_bytes']);

describe('dashboard, alert rules and metrics reference match the declared metrics', async () => {
  const { known, undeclared } = await knownMetrics();

  /**
   * Fails on used metrics that nothing declares; while some component types have no metric
   * declarations, marks the test TODO instead (the names may be those types' metrics).
   */
  const noUnknown = (t: TestContext, unknown: string[]) => {
    if (unknown.length === 0) return;
    const names = [...new Set(unknown)].join(', ');
    if (undeclared.length) t.todo(`not declared: ${names}; component types without metric declarations: ${undeclared.join(', ')}`);
    else assert.fail(`used but declared neither in the core (src/telemetry/metadata.ts) nor in a component's metadata.ts: ${names}`);
  };

  test('the declarations hold the core metrics and the process metrics', () => {
    for (const n of [
      'spanmeter_receiver_accepted_spans_total',
      'spanmeter_wal_backlog_records',
      'spanmeter_exporter_sent_records_total',
      'spanmeter_process_cpu_seconds_total',
    ]) {
      assert.ok(known.has(n), `${n} is known`);
    }
  });

  test('every metric in deploy/grafana/spanmeter.json is declared', (t) => {
    const unknown: string[] = [];
    const dash = JSON.parse(readFileSync(join(deployDir, 'grafana', 'spanmeter.json'), 'utf8')) as Obj;
    assert.equal(typeof dash.title, 'string');
    assert.ok(Number(dash.schemaVersion) >= 30);
    const panels = arr(dash.panels).flatMap((p) => [p, ...arr(p.panels)]);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    let exprs = 0;
    for (const p of panels.filter((x) => x.type !== 'row')) {
      assert.ok(arr(p.targets).length > 0, `panel "${String(p.title)}" has queries`);
      for (const tg of arr(p.targets)) {
        const expr = str(tg.expr, `panel "${String(p.title)}" expr`);
        exprs++;
        const used = promqlMetrics(expr, known);
        assert.ok(used.length > 0, `panel "${String(p.title)}": no metric in ${expr}`);
        for (const u of used) if (!known.has(u.family) && !EXTERNAL.has(u.name)) unknown.push(`${u.name} (panel "${String(p.title)}")`);
        assert.equal(balance(expr), 0, `unbalanced brackets in ${expr}`);
      }
    }
    // The areas the dashboard must cover.
    const all = JSON.stringify(dash);
    for (const m of [
      'spanmeter_receiver_accepted_spans_total',
      'spanmeter_litellm_llm_calls_total',
      'spanmeter_exporter_sent_records_total',
      'spanmeter_receiver_refused_spans_total',
      'spanmeter_wal_backlog_records',
      'spanmeter_exporter_failed_attempts_total',
      'spanmeter_exporter_retries_total',
      'spanmeter_enrich_lookups_total',
      'spanmeter_litellm_spans_with_dropped_attributes_total',
    ]) {
      assert.ok(all.includes(m), `the dashboard shows ${m}`);
    }
    assert.ok(exprs > 20);
    noUnknown(t, unknown);
  });

  test('every alert rule is well-formed and uses only declared metrics', (t) => {
    const unknown: string[] = [];
    const rules = parseYaml(readFileSync(join(deployDir, 'prometheus', 'alerts.yaml'), 'utf8')) as Obj;
    const all = arr(rules.groups).flatMap((g) => {
      assert.ok(g.name, 'group name');
      return arr(g.rules);
    });
    const names = all.map((r) => str(r.alert, 'alert'));
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
    for (const r of all) {
      const expr = str(r.expr, `${String(r.alert)} expr`);
      assert.ok(['critical', 'warning', 'info'].includes(String(get(r, 'labels.severity'))), `${String(r.alert)}: labels.severity`);
      assert.ok(get(r, 'annotations.summary') && get(r, 'annotations.description'), `${String(r.alert)}: summary and description`);
      if (r.for !== undefined) assert.match(String(r.for), /^\d+[smh]$/);
      assert.equal(balance(expr), 0, `${String(r.alert)}: unbalanced brackets`);
      const used = promqlMetrics(expr, known);
      assert.ok(used.length > 0, `${String(r.alert)}: no metric`);
      for (const u of used) if (!known.has(u.family) && !EXTERNAL.has(u.name)) unknown.push(`${u.name} (${String(r.alert)})`);
    }
    // The situations the rules must cover.
    const text = JSON.stringify(all);
    for (const m of [
      'spanmeter_wal_backlog_records',
      'spanmeter_exporter_failed_attempts_total',
      'spanmeter_wal_refused_total',
      'spanmeter_litellm_spans_with_dropped_attributes_total',
      'spanmeter_receiver_refused_spans_total',
    ]) {
      assert.ok(text.includes(m), `a rule watches ${m}`);
    }
    noUnknown(t, unknown);
  });

  test('docs/metrics.md has a row for exactly the declared metrics', () => {
    const doc = readFileSync(join(root, 'docs', 'metrics.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\|\s*`(spanmeter_[a-z0-9_]+)`/gm)].map((m) => m[1]!));
    const missing = [...known.values()].filter((m) => m.from !== PROCESS && !documented.has(m.name));
    assert.deepEqual(
      missing,
      [],
      `declared metrics missing from docs/metrics.md (run npm run docs): ${missing.map((m) => `${m.name} (${m.from})`).join(', ')}`,
    );
    const stale = [...documented].filter((n) => !known.has(n) || known.get(n)!.from === PROCESS);
    assert.deepEqual(stale, [], `docs/metrics.md lists metrics nothing declares: ${stale.join(', ')}`);
  });
});

/** Bracket balance of an expression ((), {}, []), ignoring quoted strings. */
function balance(expr: string): number {
  let depth = 0;
  const s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const c of s) {
    if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) {
      depth--;
      if (depth < 0) return -1;
    }
  }
  return depth;
}

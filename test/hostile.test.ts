/**
 * The collector against hostile clients and a hostile upstream, run as the `spanmeter` process:
 * - a 401 and a 400 are logged at warn (remote address, status, reason) and shown on the status page;
 * - an ingest API that echoes the request headers (the API key) into its error body: the key
 *   appears in no log line, not on the status page, not in the dead-letter folder;
 * - billing values: out-of-range times dropped with a reason, int64-max and negative tokens dropped, a 15 MB
 *   response id hashed to a bounded uniqueId;
 * - stdout is one JSON log stream;
 * - `validate` refuses a route path with `..`, and never prints a secret put under the wrong key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { freePort, runCli, waitFor200, type Cli } from './helpers/process.js';

const API_KEY = 'AFLO-secret-key-4f9c2a7b1e8d6035';
const TOKEN = 'otlp-bearer-token-9b1c0d7e5f3a2b64';
const dir = mkdtempSync(join(tmpdir(), 'spanmeter-hostile-'));

const kv = (key: string, value: object) => ({ key, value });
function span(id: string, over: { start?: string; end?: string; prompt?: object; responseId?: string } = {}) {
  const hex = Buffer.from(id.padEnd(16, '0').slice(0, 16)).toString('hex');
  const now = BigInt(Date.now() - 60_000) * 1_000_000n;
  return {
    traceId: hex,
    spanId: hex.slice(0, 16),
    name: 'litellm_request',
    kind: 1,
    startTimeUnixNano: over.start ?? String(now),
    endTimeUnixNano: over.end ?? String(now + 1_500_000_000n),
    attributes: [
      kv('llm.request.type', { stringValue: 'acompletion' }),
      kv('gen_ai.request.model', { stringValue: 'gpt-4o' }),
      kv('gen_ai.response.model', { stringValue: 'gpt-4o' }),
      kv('gen_ai.system', { stringValue: 'openai' }),
      kv('gen_ai.response.id', { stringValue: over.responseId ?? `chatcmpl-${id}` }),
      kv('gen_ai.usage.prompt_tokens', over.prompt ?? { intValue: '11' }),
      kv('gen_ai.usage.completion_tokens', { intValue: '2' }),
      kv('metadata.user_api_key_team_id', { stringValue: 'team-a' }),
    ],
  };
}
const requestOf = (spans: object[]) =>
  JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'litellm' }, spans }] }] });

function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const get = async (url: string) => (await fetch(url)).text();

async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('hostile clients and a hostile upstream', () => {
  let cli: Cli;
  let upstream: http.Server;
  const posted: Record<string, unknown>[] = [];
  let otlp: string;
  let admin: string;

  before(async () => {
    // An ingest API that refuses everything and echoes the request headers back, in JSON and as text.
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        posted.push(...(JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString()) as Record<string, unknown>[]));
        const echo = Object.entries(req.headers)
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join('\n');
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid record', headers: req.headers, raw: echo }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const [httpPort, adminPort] = [await freePort(), await freePort()];
    otlp = `http://127.0.0.1:${httpPort}/v1/traces`;
    admin = `http://127.0.0.1:${adminPort}`;
    const cfg = join(dir, 'pipeline.yaml');
    writeFileSync(
      cfg,
      `receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${httpPort}" }
      grpc: { enabled: false }
    auth: { bearer_token: "\${env:TEST_OTLP_TOKEN}" }
processors:
  litellm: {}
  amberflo: {}
  batch: { send_batch_size: 1, timeout: 200ms, merge_wait: 0s }
exporters:
  amberflo:
    endpoint: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}/ingest"
    api_key: "\${env:TEST_AFLO_KEY}"
service:
  data_dir: ${join(dir, 'data')}
  telemetry:
    logs: { level: info }
    metrics: { address: "127.0.0.1:${adminPort}" }
  pipelines:
    metering: { receivers: [otlp], processors: [litellm, amberflo, batch], exporters: [amberflo] }
`,
    );
    cli = runCli(['run', '--config', cfg], { TEST_OTLP_TOKEN: TOKEN, TEST_AFLO_KEY: API_KEY });
    await waitFor200(`${admin}/health/ready`, 60_000, cli);
  });

  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    cli?.child.kill('SIGTERM');
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the setup that assigns it may have failed
    await cli?.exited;
    await new Promise((r) => upstream.close(r));
  });

  it('a 401 and a 400 appear in the log and on the status page', async () => {
    const r401 = await post(otlp, requestOf([span('a')]), { 'content-type': 'application/json' });
    assert.equal(r401.status, 401);
    const r400 = await post(otlp, '{"resourceSpans": [', { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
    assert.equal(r400.status, 400);
    const logged = await until('the refusals in the log', () => {
      const lines = cli
        .stdout()
        .split('\n')
        .filter((l) => l.includes('request refused'));
      return lines.some((l) => / 401 /.test(l)) && lines.some((l) => / 400 /.test(l)) && lines;
    });
    for (const l of logged) {
      const o = JSON.parse(l) as { level: string; remote: string; status: number; reason: string };
      assert.equal(o.level, 'warn');
      assert.match(o.remote, /^127\.0\.0\.1:\d+$/);
      assert.ok(o.reason.length > 0);
    }
    const errors = JSON.parse(await get(`${admin}/status/errors`)) as { msg: string; level: string }[];
    assert.ok(
      errors.some((e) => /request refused: 401 missing or invalid credentials from 127\.0\.0\.1/.test(e.msg)),
      JSON.stringify(errors),
    );
    assert.ok(
      errors.some((e) => /request refused: 400 invalid JSON/.test(e.msg)),
      JSON.stringify(errors),
    );
  });

  it('checks billing values, and no secret from an echoing upstream reaches logs, status or dead letters', async () => {
    const spans = [
      span('good'),
      span('epoch', { start: '0', end: '18446744073709551615' }),
      span('i64max', { prompt: { intValue: '9223372036854775807' } }),
      span('negative', { prompt: { intValue: '-5' } }),
      span('hugeid', { responseId: `resp-${'x'.repeat(15 * 1024 * 1024)}` }),
    ];
    const res = await post(otlp, requestOf(spans), { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 200, res.body);

    // Both surviving calls reach the upstream, which refuses them: dead letters.
    const dl = join(dir, 'data', 'exporters');
    const deadLetters = await until('dead letters', () => {
      const files = listAll(dl).filter((f) => f.endsWith('.response.json'));
      return files.length > 0 && posted.length >= 2 && files;
    });
    const metrics = await get(`${admin}/metrics`);
    assert.match(metrics, /spanmeter_llm_calls_dropped_total\{pipeline="metering",reason="time_out_of_range"\} 1/);
    assert.match(metrics, /spanmeter_llm_calls_dropped_total\{pipeline="metering",reason="invalid_tokens"\} 2/);
    assert.match(metrics, /spanmeter_llm_calls_adjusted_total\{pipeline="metering",reason="id_hashed"\} 1/);
    const ids = posted.map((r) => String(r.uniqueId));
    assert.ok(
      ids.every((id) => id.length <= 256),
      `uniqueIds bounded: ${ids.map((i) => i.length)}`,
    );
    assert.ok(
      ids.some((id) => id.includes('sha256:')),
      `the huge id was hashed: ${ids.map((i) => i.slice(0, 60))}`,
    );
    assert.ok(
      posted.every((r) => Number(r.meterTimeInMillis) > Date.UTC(2000, 0, 1)),
      'no record at epoch 0',
    );

    await until('the rejection in the log', () => cli.stdout().includes('dead-letter'));
    await until('the drop in the log', () => cli.stdout().includes('LLM call dropped (time_out_of_range)'));
    const everywhere = [
      ['stdout', cli.stdout()],
      ['stderr', cli.stderr()],
      ['/status/errors', await get(`${admin}/status/errors`)],
      ['/status', await get(`${admin}/status`)],
      ...deadLetters.map((f) => [f, readFileSync(f, 'utf8')]),
    ];
    // The upstream's body did reach the dead letter, scrubbed.
    assert.match(readFileSync(deadLetters[0]!, 'utf8'), /invalid record/);
    for (const [where, text] of everywhere) {
      assert.ok(!text!.includes(API_KEY), `the API key leaked into ${where}`);
      assert.ok(!text!.includes(TOKEN), `the bearer token leaked into ${where}`);
    }
    // One JSON log stream: every stdout line parses.
    for (const line of cli.stdout().split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line.slice(0, 200));
  });
});

function listAll(d: string): string[] {
  try {
    return readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

describe('validate', () => {
  it('refuses a route path with "..", and an absolute one', async () => {
    const cfg = join(dir, 'routes.yaml');
    writeFileSync(
      cfg,
      `receivers:
  otlp: {}
processors:
  litellm: {}
  amberflo: {}
  batch: {}
exporters:
  file:
    directory: ${join(dir, 'out')}
    routing:
      dimension: business_unit_id
      routes:
        bu1: { path: "../../x" }
        bu2: { path: "/etc/cron.d" }
service:
  pipelines:
    metering: { receivers: [otlp], processors: [litellm, amberflo, batch], exporters: [file] }
`,
    );
    const c = runCli(['validate', '--config', cfg]);
    const { code } = await c.exited;
    assert.equal(code, 1);
    assert.match(c.stderr(), /exporters\.file\.routing\.routes\.bu1\.path: must not contain "\.\." segments/);
    assert.match(c.stderr(), /exporters\.file\.routing\.routes\.bu2\.path: must be a relative key prefix/);
  });

  it('never prints a secret placed under the wrong key, nor URL credentials', async () => {
    const cfg = join(dir, 'secret.yaml');
    writeFileSync(
      cfg,
      `receivers:
  otlp:
    protocols:
      http: { enabled: "${API_KEY}" }
processors:
  litellm: {}
  amberflo: {}
  batch: {}
exporters:
  amberflo:
    endpoint: "https://user:${TOKEN}@ingest example"
    api_key: k
service:
  pipelines:
    metering: { receivers: [otlp], processors: [litellm, amberflo, batch], exporters: [amberflo] }
`,
    );
    const c = runCli(['validate', '--config', cfg]);
    const { code } = await c.exited;
    assert.equal(code, 1);
    const out = c.stdout() + c.stderr();
    assert.match(out, /protocols\.http\.enabled: must be boolean, not a string of \d+ characters/);
    assert.match(out, /exporters\.amberflo\.endpoint/);
    assert.ok(!out.includes(API_KEY), out);
    assert.ok(!out.includes(TOKEN), out);
  });
});

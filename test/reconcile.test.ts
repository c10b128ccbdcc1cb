/**
 * `spanmeter reconcile`: the calls in the file exporter's objects against LiteLLM's spend log, from
 * a real PostgreSQL with LiteLLM's "LiteLLM_SpendLogs" table (test/fixtures/litellm/spend-logs.sql)
 * and from a stand-in for its admin API that pages as LiteLLM does. Complete files reconcile
 * clean; a deleted batch is listed call by call; a token difference is reported per call; the
 * expected differences are shown apart and do not fail the run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FileSink } from '../exporters/file/file.js';
import { EMBEDDED_CONFIG } from '../src/cli.js';
import { MeteredCalls, reconcile, type ReferenceCall } from '../src/report/reconcile.js';
import { SpendLogApi } from '../integrations/litellm/spend-log/index.js';
import { spendLogReconcileCommand } from '../integrations/litellm/spend-log/command.js';
import { reportFormat } from '../integrations/index.js';
import { SpendLogApiStub } from './helpers/litellm-spend-api.js';
import { DAY0, makeCalls, objectsOf, spendRow, type SpendRow } from './helpers/metering.js';
import { repoRoot } from './helpers/paths.js';
import { runCli } from './helpers/process.js';
import { testPostgres, type TestPostgres } from './helpers/postgres.js';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'spanmeter-reconcile-'));
const calls = makeCalls(400, 11);
const objects = objectsOf(calls, 20);
const range = ['--from', new Date(DAY0).toISOString(), '--to', new Date(DAY0 + 3 * DAY).toISOString()];
const KEY = 'sk-admin-test';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; code: number }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await spendLogReconcileCommand((given) => given ?? [EMBEDDED_CONFIG], reportFormat, { stdout, stderr, env }).parseAsync(args, { from: 'user' });
    // The command sets exitCode: the assignment above must not narrow what is read back.
    const code = process.exitCode as typeof saved;
    return { stdout: stdout.text, stderr: stderr.text, code: Number(code ?? 0) };
  } finally {
    process.exitCode = saved;
  }
}

/** Writes objects (all, or all but those at `skip`) to a fresh directory; returns it. */
async function filesDir(name: string, skip: number[] = []): Promise<string> {
  const d = join(dir, name);
  const sink = new FileSink();
  for (const [i, o] of objects.entries())
    if (!skip.includes(i)) await sink.put(o.obj, { directory: d, path: 'litellm-metering', label: 'test' }, AbortSignal.timeout(10_000));
  return d;
}

const rows = () => calls.map(spendRow);

/** The three scenarios, against one way of reading the spend log. */
function scenarios(
  name: string,
  setup: () => Promise<{ env: NodeJS.ProcessEnv; args: string[]; setRows(rows: SpendRow[]): Promise<void> } | { skip: string }>,
) {
  describe(`against LiteLLM's spend log (${name})`, () => {
    let ctx: { env: NodeJS.ProcessEnv; args: string[]; setRows(rows: SpendRow[]): Promise<void> } | undefined;
    let skip: string | undefined;
    let complete = '';
    before(async () => {
      const r = await setup();
      if ('skip' in r) skip = r.skip;
      else ctx = r;
      complete = await filesDir(`complete-${name}`);
    });

    it('complete files reconcile clean: exit 0, every call matched', async (t) => {
      if (!ctx) {
        t.skip(skip);
        return;
      }
      await ctx.setRows(rows());
      const r = await run(['--dir', complete, ...range, ...ctx.args, '--format', 'json', '-q'], ctx.env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const body = JSON.parse(r.stdout);
      assert.equal(body.agree, true);
      assert.equal(body.counts.referenceCalls, calls.length);
      assert.equal(body.counts.meteredCalls, calls.length);
      assert.equal(body.counts.matched, calls.length);
      assert.deepEqual([body.missingFromFiles, body.onlyInFiles, body.tokenMismatches], [[], [], []]);
      const teams = new Map<string, number>();
      for (const c of calls) teams.set(c.teamId ?? 'unknown', (teams.get(c.teamId ?? 'unknown') ?? 0) + 1);
      assert.deepEqual(new Map(body.teams.map((s: { team: string; matched: number }) => [s.team, s.matched])), teams);
      const text = await run(['--dir', complete, ...range, ...ctx.args, '-q'], ctx.env);
      assert.match(text.stdout, /^AGREE: /);
    });

    it('a deleted batch: exactly its calls are listed as missing, exit 1', async (t) => {
      if (!ctx) {
        t.skip(skip);
        return;
      }
      await ctx.setRows(rows());
      const gone = [3, 11];
      const d = await filesDir(`missing-${name}`, gone);
      const idsFile = join(dir, `missing-${name}.txt`);
      const r = await run(['--dir', d, ...range, ...ctx.args, '--format', 'json', '-q', '--ids-file', idsFile], ctx.env);
      assert.equal(r.code, 1, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.agree, false);
      const lost = gone.flatMap((i) => objects[i]!.calls);
      // Failed calls LiteLLM logged are expected to be metered too, but shown apart when they are not.
      const want = lost
        .filter((c) => !c.error)
        .map((c) => c.id)
        .sort();
      assert.deepEqual(body.missingFromFiles.map((c: { id: string }) => c.id).sort(), want);
      assert.deepEqual(
        body.expected.failedNotMetered.map((c: { id: string }) => c.id).sort(),
        lost
          .filter((c) => c.error)
          .map((c) => c.id)
          .sort(),
      );
      assert.deepEqual(readFileSync(idsFile, 'utf8').trim().split('\n').sort(), want);
      assert.equal(body.onlyInFiles.length, 0);
      const text = await run(['--dir', d, ...range, ...ctx.args, '-q', '--max-ids', '3'], ctx.env);
      assert.match(text.stdout, /^DIFFER: /);
      assert.match(text.stdout, new RegExp(`missing from the files \\(${want.length}\\):\\n  ${want[0]}`));
      assert.match(text.stdout, new RegExp(`… and ${want.length - 3} more`));
      // Within a stated tolerance the same files agree.
      const tolerated = await run(['--dir', d, ...range, ...ctx.args, '-q', '--max-missing', String(want.length)], ctx.env);
      assert.equal(tolerated.code, 0);
    });

    it('a token mismatch is reported per call', async (t) => {
      if (!ctx) {
        t.skip(skip);
        return;
      }
      const changed = rows();
      const ok = changed.flatMap((r, i) => (r.status === 'success' ? [i] : []));
      const victims = [ok[0]!, ok[ok.length - 1]!];
      changed[victims[0]!]!.prompt_tokens += 7;
      changed[victims[1]!]!.completion_tokens -= 1;
      await ctx.setRows(changed);
      const r = await run(['--dir', complete, ...range, ...ctx.args, '--format', 'json', '-q'], ctx.env);
      assert.equal(r.code, 1, r.stderr);
      const body = JSON.parse(r.stdout);
      const byId = new Map(body.tokenMismatches.map((m: { id: string }) => [m.id, m]));
      assert.equal(byId.size, 2);
      for (const i of victims) {
        const c = calls[i]!;
        assert.deepEqual(byId.get(c.id), {
          id: c.id,
          startTime: new Date(c.startTimeMs).toISOString(),
          team: c.teamId ?? 'unknown',
          key: c.keyAlias,
          model: c.model,
          reference: { promptTokens: changed[i]!.prompt_tokens, completionTokens: changed[i]!.completion_tokens },
          metered: { inputTokens: c.usage.promptTokens, outputTokens: c.usage.completionTokens },
        });
      }
      const tolerated = await run(['--dir', complete, ...range, ...ctx.args, '-q', '--token-tolerance', '7'], ctx.env);
      assert.equal(tolerated.code, 0, tolerated.stdout);
    });
  });
}

const pgTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

let db: TestPostgres | undefined;
scenarios('PostgreSQL', async () => {
  const r = await testPostgres();
  if ('skip' in r) return r;
  db = r;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(readFileSync(join(repoRoot(), 'test', 'fixtures', 'litellm', 'spend-logs.sql'), 'utf8'));
  await c.end();
  return {
    env: { LITELLM_DATABASE_URL: db.url },
    args: ['--source', 'db'],
    async setRows(rows: SpendRow[]) {
      const c = new pg.Client({ connectionString: db!.url });
      await c.connect();
      try {
        await c.query('DELETE FROM "LiteLLM_SpendLogs"');
        for (const r of rows) {
          await c.query(
            `INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", model, model_group, "user", metadata, team_id, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamp, $9::timestamp, $10, $11, $12, $13, $14, $15)`,
            [
              r.request_id,
              r.call_type,
              r.api_key,
              r.spend,
              r.total_tokens,
              r.prompt_tokens,
              r.completion_tokens,
              pgTime(r.startTime),
              pgTime(r.endTime),
              r.model,
              r.model_group,
              r.user,
              JSON.stringify(r.metadata),
              r.team_id,
              r.status,
            ],
          );
        }
      } finally {
        await c.end();
      }
    },
  };
});

let stub: SpendLogApiStub | undefined;
scenarios('admin API', async () => {
  stub = await new SpendLogApiStub(KEY).start();
  return {
    env: { LITELLM_MASTER_KEY: KEY },
    args: ['--source', 'api', '--api-base', stub.url],
    async setRows(rows: SpendRow[]) {
      stub!.rows = rows;
    },
  };
});

describe('reconcile: the reference log and its paging', () => {
  after(async () => {
    await stub?.stop();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads an older proxy's /spend/logs/ui when /spend/logs/v2 is not there, in pages of at most 100", async () => {
    const old = await new SpendLogApiStub(KEY, ['/spend/logs/ui']).start();
    try {
      old.rows = rows();
      const complete = await filesDir('complete-old-api');
      const r = await run(['--dir', complete, ...range, '--source', 'api', '--api-base', old.url, '-q'], { LITELLM_MASTER_KEY: KEY });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const pages = old.requests.filter((q) => q.path === '/spend/logs/ui');
      assert.ok(pages.length > calls.length / 100, `${pages.length} pages`);
      assert.ok(pages.every((q) => Number(q.query.page_size) <= 100 && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(q.query.start_date!)));
    } finally {
      await old.stop();
    }
  });

  it('reads past a capped count: pages until a short one, not up to total_pages', async () => {
    // A proxy that stops counting at 3 rows, read 2 rows a page: total_pages would say 2.
    const capped = await new SpendLogApiStub(KEY, ['/spend/logs/v2'], 3).start();
    try {
      capped.rows = rows();
      const api = new SpendLogApi({ baseUrl: capped.url, apiKey: KEY, pageSize: 2 });
      const ids: string[] = [];
      for await (const page of api.calls(DAY0, DAY0 + 3 * DAY)) ids.push(...page.map((c) => c.id));
      assert.deepEqual([...new Set(ids)].sort(), calls.map((c) => c.id).sort());
      assert.ok(
        capped.requests.some((q) => Number(q.query.page) > 2),
        'read beyond the capped total_pages',
      );
    } finally {
      await capped.stop();
    }
  });

  it('is a command of the spanmeter binary: exit 0 when the files agree, 1 when a batch is gone', async () => {
    stub!.rows = rows();
    const env = { LITELLM_MASTER_KEY: KEY };
    const ok = runCli(['reconcile', '--dir', await filesDir('complete-cli'), ...range, '--source', 'api', '--api-base', stub!.url, '-q'], env);
    assert.equal((await ok.exited).code, 0, ok.stderr());
    assert.match(ok.stdout(), /^AGREE: /);
    const gone = runCli(['reconcile', '--dir', await filesDir('missing-cli', [0]), ...range, '--source', 'api', '--api-base', stub!.url, '-q'], env);
    assert.equal((await gone.exited).code, 1, gone.stderr());
    assert.match(gone.stdout(), /^DIFFER: /);
  });

  it('--exclude-call-type: gateway calls the meter does not see (e.g. tool calls) are listed apart', async () => {
    const tool = {
      ...spendRow(calls[5]!),
      request_id: 'mcp-tool-call-1',
      call_type: 'call_mcp_tool',
      prompt_tokens: 0,
      completion_tokens: 0,
      status: 'success' as const,
    };
    stub!.rows = [...rows(), tool];
    const complete = await filesDir('complete-exclude');
    const args = ['--dir', complete, ...range, '--source', 'api', '--api-base', stub!.url, '--format', 'json', '-q'];
    const strict = await run(args, { LITELLM_MASTER_KEY: KEY });
    assert.equal(strict.code, 1);
    assert.deepEqual(
      JSON.parse(strict.stdout).missingFromFiles.map((c: { id: string }) => c.id),
      ['mcp-tool-call-1'],
    );
    const excluded = await run([...args, '--exclude-call-type', 'call_mcp_tool'], { LITELLM_MASTER_KEY: KEY });
    assert.equal(excluded.code, 0, excluded.stdout);
    assert.deepEqual(
      JSON.parse(excluded.stdout).expected.excludedCallTypesNotMetered.map((c: { id: string; callType: string }) => [c.id, c.callType]),
      [['mcp-tool-call-1', 'call_mcp_tool']],
    );
  });

  it('a wrong key and a missing source are clear errors (exit 2)', async () => {
    const complete = await filesDir('complete-errors');
    let r = await run(['--dir', complete, ...range, '--source', 'api', '--api-base', stub!.url, '-q'], { LITELLM_MASTER_KEY: 'wrong' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /answered 401: the API key is missing or may not read spend logs/);
    r = await run(['--dir', complete, ...range, '-q'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /say where LiteLLM's spend log is: --source db .* or --source api/);
    r = await run(['--dir', complete, ...range, '--source', 'db', '-q'], {});
    assert.match(r.stderr, /environment variable LITELLM_DATABASE_URL .* is not set/);
  });

  it('expected differences are shown apart and do not fail: lag, failed calls not logged, calls written twice', async () => {
    const now = Date.now();
    const recent = makeCalls(4, 99, 0).map((c, i) => ({ ...c, id: `recent-${i}`, startTimeMs: now - 60_000 + i }));
    const older = calls.slice(0, 30);
    const metered = new MeteredCalls(reportFormat.meters);
    for (const o of objectsOf([...older, ...recent.slice(0, 2)], 10)) metered.add(o.records);
    metered.add(objectsOf(older.slice(0, 1), 1)[0]!.records); // written twice
    const failedUnlogged = older.filter((c) => c.error).map((c) => c.id);
    assert.ok(failedUnlogged.length > 0);
    const ref: ReferenceCall[] = [...older.filter((c) => !c.error), recent[2]!, recent[3]!].map((c) => ({
      id: c.id,
      startTimeMs: c.startTimeMs,
      team: c.teamId,
      key: c.keyAlias,
      model: c.model,
      promptTokens: c.usage.promptTokens,
      completionTokens: c.usage.completionTokens,
      failed: false,
    }));
    const reference = {
      label: 'test',
      async *calls() {
        yield ref;
      },
    };
    const r = await reconcile(metered, reference, DAY0, now + 1, {
      fromMs: DAY0,
      toMs: now + 1,
      settledBeforeMs: now - 15 * 60_000,
      tokenTolerance: 0,
      maxMissing: 0,
      maxExtra: 0,
    });
    assert.equal(r.agree, true);
    assert.deepEqual(r.expected.failedNotInReference.map((c) => c.id).sort(), failedUnlogged.sort());
    assert.deepEqual(
      r.expected.notSettledOnlyInFiles.map((c) => c.id),
      ['recent-0', 'recent-1'],
    );
    assert.deepEqual(
      r.expected.notSettledMissingFromFiles.map((c) => c.id),
      ['recent-2', 'recent-3'],
    );
    assert.deepEqual(
      r.expected.meteredMoreThanOnce.map((c) => [c.id, c.copies]),
      [[older[0]!.id, 2]],
    );
    assert.equal(r.tokenMismatches.length, 0, 'a call written twice is compared per copy');
  });
});

/**
 * Source `litellm_db` against a REAL PostgreSQL holding LiteLLM's three tables (column names and
 * types as LiteLLM's Prisma migration creates them). Skipped, with the reason, when no PostgreSQL
 * is reachable (see test/helpers/postgres.ts: SPANMETER_TEST_PG_URL, or a throwaway cluster).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LitellmDbSource } from '../integrations/litellm/catalogue/database.js';
import { makeCall, makeEnrich } from './fixtures/enrich/harness.js';
import { repoRoot } from './helpers/paths.js';
import { testPostgres, type TestPostgres } from './helpers/postgres.js';

const ENV = 'SPANMETER_TEST_ENRICH_DB_URL';

const ENCRYPTED = 'q3Vt8p1Hc0wUq3Zf4m5kq9X0bK4lqG8a6n1tYw2eRz7sUo3vB9cD1fA5hJ6kL8mN';

async function seed(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(readFileSync(join(repoRoot(), 'test', 'fixtures', 'enrich', 'litellm-schema.sql'), 'utf8'));
    const team = (id: string, alias: string | null, metadata: object, org: string | null = null) =>
      c.query('INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members, metadata, models) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        id,
        alias,
        org,
        [],
        [],
        metadata,
        [],
      ]);
    await team('team-a', 'Team A', { business_unit_id: 'bu-marketing', cost_center: 'cc-7' });
    await team('team-b', 'Team B', {}, 'org-1');
    await team('team-c', null, { business_unit_id: 'bu-c' });
    const key = (token: string, alias: string | null, teamId: string | null, userId: string | null, metadata: object) =>
      c.query('INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, models, team_id, user_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        token,
        'sk-...abcd',
        alias,
        [],
        teamId,
        userId,
        metadata,
      ]);
    await key('hash-a', 'key-a', 'team-a', 'user-1', { service_account_id: 'svc-a' });
    await key('hash-b', 'key-b', 'team-b', null, { business_unit_id: 'bu-key' });
    await key('hash-c', null, null, 'default_user_id', {});
    const model = (id: string, name: string, params: object, info: object | null) =>
      c.query(
        'INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info, created_by, updated_by) VALUES ($1, $2, $3, $4, $5, $5)',
        [id, name, params, info, 'default_user_id'],
      );
    await model(
      'model-bedrock',
      'claude-haiku',
      { model: 'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0', aws_region_name: 'us-west-2', aws_secret_access_key: 'SECRET-NEVER-READ' },
      { id: 'model-bedrock', key: 'anthropic.claude-3-5-haiku-20241022-v1:0', litellm_provider: 'bedrock', db_model: true },
    );
    await model(
      'model-enc',
      'gpt-4o',
      { model: ENCRYPTED, api_base: ENCRYPTED, api_key: ENCRYPTED },
      { id: 'model-enc', litellm_provider: 'azure', base_model: 'azure/gpt-4o-2024-08-06', db_model: true },
    );
    await model('model-noinfo', 'emb', { model: 'openai/text-embedding-3-small', api_base: 'https://api.openai.com/v1' }, null);
    // As prisma-client-py may store it: the JSON document as a JSONB string scalar.
    await c.query(
      'INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info, created_by, updated_by) VALUES ($1, $2, to_jsonb($3::text), to_jsonb($4::text), $5, $5)',
      [
        'model-strjson',
        'vertex',
        JSON.stringify({ model: 'vertex_ai/gemini-1.5-pro', vertex_location: 'europe-west4' }),
        JSON.stringify({ id: 'model-strjson', base_model: 'gemini-1.5-pro' }),
        'default_user_id',
      ],
    );
    await c.query('INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, metadata) VALUES ($1, $2, to_jsonb($3::text))', [
      'team-strjson',
      'Str',
      JSON.stringify({ business_unit_id: 'bu-str' }),
    ]);
  } finally {
    await c.end();
  }
}

describe('enrich litellm_db (real PostgreSQL)', () => {
  let db: TestPostgres | undefined;
  let skip: string | undefined;
  before(async () => {
    const r = await testPostgres();
    if ('skip' in r) skip = r.skip;
    else {
      db = r;
      await seed(db.url);
      process.env[ENV] = db.url;
    }
  });
  after(async () => {
    Reflect.deleteProperty(process.env, ENV);
    await db?.stop();
  });

  it('warms all three tables with keyset pagination and enriches from them', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const h = makeEnrich({ source: 'litellm_db', litellm_db: { url_env: ENV, page_size: 2 } });
    await h.proc.start(h.host);
    try {
      assert.equal(h.host.details.get('enrich:enrich')?.ok, true, h.host.details.get('enrich:enrich')?.message);
      assert.match(h.host.details.get('enrich:enrich')!.message!, /teams 4, keys 3, models 4/);
      await h.proc.consume([
        makeCall({ keyHash: 'hash-a', modelId: 'model-bedrock', provider: 'bedrock' }),
        makeCall({ keyHash: 'hash-b', modelId: 'model-enc', provider: 'azure' }),
        makeCall({ keyHash: 'hash-c', teamId: 'team-c', modelId: 'model-noinfo' }),
      ]);
      const [a, b, c] = h.next.all;
      assert.equal(a!.keyAlias, 'key-a');
      assert.equal(a!.teamAlias, 'Team A');
      assert.deepEqual(a!.teamMetadata, { business_unit_id: 'bu-marketing', cost_center: 'cc-7' });
      assert.equal(a!.userId, 'user-1');
      assert.equal(a!.modelMapKey, 'anthropic.claude-3-5-haiku-20241022-v1:0');
      assert.equal(a!.region, 'us-west-2');
      assert.equal(b!.orgId, 'org-1');
      assert.deepEqual(b!.keyMetadata, { business_unit_id: 'bu-key' });
      assert.equal(b!.apiBase, null, 'encrypted api_base ignored');
      assert.equal(b!.modelMapKey, 'azure/gpt-4o-2024-08-06');
      assert.equal(b!.modelMapProvider, 'azure');
      assert.equal(c!.teamAlias, null);
      assert.deepEqual(c!.teamMetadata, { business_unit_id: 'bu-c' });
      assert.equal(c!.apiBase, 'https://api.openai.com/v1');
      assert.equal(c!.provider, 'openai');
      assert.equal(c!.modelMapKey, null, 'no model_info: no model map');
      assert.ok(!JSON.stringify(h.next.all).includes('SECRET-NEVER-READ'));
      await h.proc.consume([makeCall({ teamId: 'team-strjson', modelId: 'model-strjson' })]);
      const d = h.next.all[3]!;
      assert.deepEqual(d.teamMetadata, { business_unit_id: 'bu-str' }, 'JSON-string metadata decoded');
      assert.equal(d.region, 'europe-west4', 'JSON-string litellm_params unwrapped');
      assert.equal(d.modelMapKey, 'gemini-1.5-pro');
    } finally {
      await h.proc.shutdown();
    }
  });

  it('reads rows added after the warm-up on demand and negative-caches unknown ids', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const h = makeEnrich({ source: 'litellm_db', litellm_db: { url_env: ENV }, budget: '5s' });
    await h.proc.start(h.host);
    const c = new pg.Client({ connectionString: db!.url });
    await c.connect();
    try {
      await c.query('INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, team_id, metadata) VALUES ($1, $2, $3, $4)', [
        'hash-new',
        'fresh',
        'team-b',
        { business_unit_id: 'bu-new' },
      ]);
      await h.proc.consume([makeCall({ keyHash: 'hash-new' }), makeCall({ keyHash: 'hash-missing' })]);
      assert.equal(h.next.all[0]!.keyAlias, 'fresh');
      assert.equal(h.next.all[0]!.teamAlias, 'Team B');
      assert.equal(h.next.all[1]!.keyAlias, null);
      await h.proc.consume([makeCall({ keyHash: 'hash-missing' })]);
      assert.equal(await h.metric('spanmeter_enrich_source_requests_total', { kind: 'key', op: 'get', outcome: 'not_found' }), 1);
      assert.equal(await h.metric('spanmeter_enrich_lookups_total', { kind: 'key', result: 'negative' }), 1);
    } finally {
      await c.query(`DELETE FROM "LiteLLM_VerificationToken" WHERE token = 'hash-new'`);
      await c.end();
      await h.proc.shutdown();
    }
  });

  it('opens read-only sessions, even when the URL carries its own options', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const url = new URL(db!.url);
    if (!url.searchParams.has('options')) url.searchParams.set('options', '-c application_name=x');
    const s = new LitellmDbSource({ url: url.toString(), url_env: ENV, query_timeout: 5000, page_size: 10, max_connections: 1, teamMetadataKeys: [] });
    try {
      assert.equal((await s.get('team', 'team-a', new AbortController().signal))?.teamAlias, 'Team A');
      // Through the source's own query path (the only one it has), a write is refused.
      await assert.rejects(s['query'](`UPDATE "LiteLLM_TeamTable" SET team_alias = 'x'`, []), /read-only transaction/);
      const r = await s['query']('SHOW statement_timeout', []);
      assert.equal(r[0]!.statement_timeout, '5s');
    } finally {
      await s.close();
    }
  });

  it('an unreachable database: records flow, health says so, the password never shows', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    process.env.SPANMETER_TEST_ENRICH_DB_DOWN = 'postgresql://litellm:hunter2-very-secret@127.0.0.1:1/litellm';
    const h = makeEnrich({ source: 'litellm_db', litellm_db: { url_env: 'SPANMETER_TEST_ENRICH_DB_DOWN', query_timeout: '1s' }, budget: '200ms' });
    try {
      await h.proc.start(h.host);
      const d = h.host.details.get('enrich:enrich')!;
      assert.equal(d.ok, false);
      assert.match(d.message!, /litellm_db: query failed/);
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all.length, 1);
      assert.equal(h.next.all[0]!.keyAlias, null);
      const seen = JSON.stringify([...h.host.details.values()]) + h.logs.join('');
      assert.ok(!seen.includes('hunter2'), 'password leaked');
    } finally {
      await h.proc.shutdown();
      delete process.env.SPANMETER_TEST_ENRICH_DB_DOWN;
    }
  });

  it('survives the database killing its connections mid-run and keeps answering', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const h = makeEnrich({ source: 'litellm_db', litellm_db: { url_env: ENV }, budget: '5s', cache: { warm: false } });
    await h.proc.start(h.host);
    const admin = new pg.Client({ connectionString: db!.url });
    await admin.connect();
    try {
      await h.proc.consume([makeCall({ keyHash: 'hash-a' })]);
      assert.equal(h.next.all[0]!.keyAlias, 'key-a');
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'spanmeter-enrich' AND pid <> pg_backend_pid()`,
      );
      assert.ok(killed.rowCount! >= 1, 'the pool had a connection to kill');
      // The next lookups reconnect; at most one may fail while the pool notices.
      let tries = 0;
      do {
        await h.proc.consume([makeCall({ keyHash: 'hash-b' })]);
        tries++;
      } while (h.next.all.at(-1)!.keyAlias === null && tries < 3);
      assert.equal(h.next.all.at(-1)!.keyAlias, 'key-b');
      assert.ok(tries <= 2, `needed ${tries} attempts`);
      assert.equal(h.host.details.get('enrich:enrich')?.ok, true);
    } finally {
      await admin.end();
      await h.proc.shutdown();
    }
  });

  it('lists teams and models in the same shape as the file and API sources', async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const s = new LitellmDbSource({
      url: db!.url,
      url_env: ENV,
      query_timeout: 5000,
      page_size: 1,
      max_connections: 1,
      teamMetadataKeys: ['business_unit_id'],
    });
    try {
      const teams = await s.list('team', new AbortController().signal);
      assert.deepEqual(
        teams.map((x) => [x.teamId, x.teamAlias, x.metadata]),
        [
          ['team-a', 'Team A', { business_unit_id: 'bu-marketing' }],
          ['team-b', 'Team B', {}],
          ['team-c', null, { business_unit_id: 'bu-c' }],
          ['team-strjson', 'Str', { business_unit_id: 'bu-str' }],
        ],
      );
      const models = await s.list('model', new AbortController().signal);
      assert.deepEqual(
        models.map((m) => m.modelId),
        ['model-bedrock', 'model-enc', 'model-noinfo', 'model-strjson'],
      );
      assert.equal(await s.get('model', 'nope', new AbortController().signal), null);
    } finally {
      await s.close();
    }
  });
});

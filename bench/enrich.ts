/**
 * Enrichment hot path with a warm cache: how many LLM calls (and lookups: key + team + model per
 * call) the `enrich` processor resolves per second when every id is cached, i.e. no source I/O.
 * Catalogue: 10,000 keys, 1,000 teams, 200 deployments (file source, warmed at start); batches of
 * 100 calls with ids drawn at random, passed to a no-op next stage.
 *
 *   npx tsc -p tsconfig.json --outDir .tmp/me && node .tmp/me/bench/enrich.js [seconds-per-case]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlmCall } from '../src/data/llm-call.js';
import { applyFacts } from '../processors/enrich/apply.js';
import { makeCall, makeEnrich } from '../test/fixtures/enrich/harness.js';

const seconds = Number(process.argv[2] ?? 3);
const KEYS = 10_000;
const TEAMS = 1_000;
const MODELS = 200;
const BATCH = 100;

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-bench-enrich-'));
const path = join(dir, 'catalogue.json');
writeFileSync(
  path,
  JSON.stringify({
    teams: Array.from({ length: TEAMS }, (_, i) => ({
      team_id: `team-${i}`,
      team_alias: `Team ${i}`,
      metadata: { business_unit_id: `bu-${i % 37}`, cost_center: `cc-${i}` },
    })),
    keys: Array.from({ length: KEYS }, (_, i) => ({
      token: `${i.toString(16).padStart(8, '0')}${'ab'.repeat(28)}`,
      key_alias: `key-${i}`,
      team_id: `team-${i % TEAMS}`,
      user_id: `user-${i % 500}`,
      metadata: { service_account_id: `svc-${i}` },
    })),
    models: Array.from({ length: MODELS }, (_, i) => ({
      model_name: `group-${i % 20}`,
      litellm_params: { model: `bedrock/anthropic.model-${i}`, aws_region_name: ['us-east-1', 'us-west-2', 'eu-central-1'][i % 3] },
      model_info: { id: `model-${i}`, key: `anthropic.model-${i}`, litellm_provider: 'bedrock' },
    })),
  }),
);

/** Span-like calls: key hash, team id and deployment id known; alias/metadata evicted (null). */
function batches(count: number): LlmCall[][] {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: BATCH }, () => {
      const k = rnd(KEYS);
      return makeCall({
        keyHash: `${k.toString(16).padStart(8, '0')}${'ab'.repeat(28)}`,
        teamId: `team-${k % TEAMS}`,
        modelId: `model-${rnd(MODELS)}`,
        modelMapKey: 'guess',
        modelMapProvider: 'bedrock',
      });
    }),
  );
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), loadavg ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const h = makeEnrich({ source: 'file', file: { path } });
  await h.proc.start(h.host);
  const input = batches(1_000);
  let sink = 0;
  const next = h.next as unknown as { consume(d: LlmCall[]): Promise<void> };
  next.consume = (d) => {
    sink += d.length;
    return Promise.resolve();
  };

  // Case 1: the processor's consume() (peek x3 + apply + metrics) with everything cached.
  for (let i = 0; i < 200; i++) await h.proc.consume(input[i % input.length]!);
  let calls = 0;
  let t0 = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    await h.proc.consume(input[i % input.length]!);
    calls += BATCH;
  }
  let s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `processor consume, warm cache: ${Math.round(calls / s).toLocaleString('en')} calls/s = ${Math.round((3 * calls) / s).toLocaleString('en')} lookups/s (${(1e6 / (calls / s)).toFixed(2)} µs/call)`,
  );

  // Case 2: cache reads alone (peek), to separate lookup cost from apply/metrics.
  const { key, team, model } = h.proc.lookups;
  const flat = input.flat();
  let lookups = 0;
  t0 = process.hrtime.bigint();
  const end2 = Date.now() + seconds * 1000;
  while (Date.now() < end2) {
    for (let i = 0; i < 10_000; i++) {
      const c = flat[i % flat.length]!;
      key!.peek(c.keyHash!);
      team!.peek(c.teamId!);
      model!.peek(c.modelId!);
      lookups += 3;
    }
  }
  s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`cache peek only (incl. hit counter): ${Math.round(lookups / s).toLocaleString('en')} lookups/s`);

  // Case 3: applyFacts alone (the copy of the LlmCall with facts filled).
  const facts = {
    key: { keyHash: 'h', keyAlias: 'a', teamId: 't', userId: 'u', orgId: null, metadata: { x: 1 } },
    team: { teamId: 't', teamAlias: 'T', orgId: null, metadata: { business_unit_id: 'b' } },
    model: {
      modelId: 'm',
      modelGroup: 'g',
      provider: 'bedrock',
      modelMapKey: 'k',
      baseModel: null,
      modelMapProvider: 'bedrock',
      apiBase: null,
      region: 'us-west-2',
    },
  };
  let applied = 0;
  t0 = process.hrtime.bigint();
  const end3 = Date.now() + seconds * 1000;
  while (Date.now() < end3) {
    for (let i = 0; i < 10_000; i++) {
      if (applyFacts(flat[i % flat.length]!, facts) !== flat[0]) applied++;
    }
  }
  s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`applyFacts only: ${Math.round(applied / s).toLocaleString('en')} calls/s`);
  console.log(`(sink ${sink}, cache sizes key ${key!.cache.size} team ${team!.cache.size} model ${model!.cache.size})`);
  await h.proc.shutdown();
  rmSync(dir, { recursive: true, force: true });
}

await main();

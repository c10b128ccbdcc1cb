/**
 * Conformance of the span path WITH enrichment: for every request folder in
 * ../shared/conformance/litellm-amberflo/, a catalogue is built from slo.json (team, key and model
 * facts shaped as LiteLLM's admin API returns them), the spans run through a real pipeline
 * (span source → litellm → enrich → amberflo compat/clean → capture), and the records must equal
 * expected.from-slo.json — except `uniqueId` when the span has no gen_ai.response.id, and the
 * `llm_images` value when `n` is unknown on the span (LiteLLM's model_parameters.n is not emitted).
 *
 * Sources exercised: `litellm_api` (an in-test HTTP server serving the catalogue; default
 * `model.model_map: base_model`) and `file` (with `model.model_map: catalogue`). The model facts
 * take `model_info.key` / `litellm_provider` from the SLO's model_map_information, i.e. what
 * LiteLLM knew for that call (a live /model/info reports the deployment's own cost-map key, which
 * can differ, e.g. `gpt-4o` vs the dated `gpt-4o-2024-08-06`: see the processor README).
 * Skips, saying why, when the conformance data or the litellm / amberflo processors are absent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import type { Factory } from '../src/component.js';
import { formatError, loadConfig } from '../src/config/config.js';
import type { MeterRecord } from '../src/data/meter-record.js';
import { fromOtlpJson } from '../src/otlp/json.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import enrich from '../processors/enrich/index.js';
import { FakeLitellm, type Catalogue } from './fixtures/enrich/fake-litellm.js';
import { registerTestComponents, type Capture, type TestSource } from './helpers/components.js';
import { rule1 } from './helpers/clean-oracle.js';
import { buildRoot, conformanceDir, conformanceSkip } from './helpers/paths.js';

const CONF = conformanceDir();
const VERSIONS = ['v1.79', 'v1.81'] as const;
const ENV = 'SPANMETER_TEST_CONFORMANCE_LITELLM_KEY';

async function load(rel: string): Promise<Factory | undefined> {
  if (!existsSync(join(buildRoot(), rel))) return undefined;
  const mod = (await import(`../${rel}`)) as { default?: Factory };
  return mod.default;
}
const LITELLM = await load('processors/litellm/index.js');
const AMBERFLO = await load('processors/amberflo/index.js');

type Obj = Record<string, unknown>;

/** Team, key and model facts from one StandardLoggingPayload, as LiteLLM's admin API would return them. */
export function catalogueFromSlo(slo: Obj): Catalogue {
  const md = (slo.metadata ?? {}) as Obj;
  const hp = (slo.hidden_params ?? {}) as Obj;
  const cat: Catalogue = { teams: [], keys: [], models: [] };
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const teamId = s(md.user_api_key_team_id);
  if (teamId) cat.teams.push({ team_id: teamId, team_alias: s(md.user_api_key_team_alias), organization_id: s(md.user_api_key_org_id), metadata: {} });
  const hash = s(md.user_api_key_hash);
  if (hash) {
    cat.keys.push({
      token: hash,
      key_alias: s(md.user_api_key_alias),
      team_id: teamId,
      user_id: s(md.user_api_key_user_id),
      organization_id: s(md.user_api_key_org_id),
      metadata: (md.user_api_key_auth_metadata as Obj | null) ?? {},
    });
  }
  const modelId = s(hp.model_id) ?? s(slo.model_id);
  if (modelId) {
    const mmi = (slo.model_map_information ?? null) as Obj | null;
    const mmv = (mmi?.model_map_value ?? null) as Obj | null;
    const provider = s(slo.custom_llm_provider);
    cat.models.push({
      model_name: s(slo.model_group) ?? s(slo.model) ?? 'model',
      litellm_params: {
        model: provider && s(slo.model) ? `${provider}/${slo.model as string}` : s(slo.model),
        ...(s(slo.api_base) ? { api_base: slo.api_base } : {}),
      },
      model_info: { id: modelId, ...(mmv ? { key: mmv.key, litellm_provider: mmv.litellm_provider } : {}) },
    });
  }
  return cat;
}

function billingSpanHasResponseId(otlp: Obj): boolean {
  for (const rs of (otlp.resourceSpans ?? []) as Obj[])
    for (const ss of (rs.scopeSpans ?? []) as Obj[])
      for (const sp of (ss.spans ?? []) as Obj[]) {
        const attrs = (sp.attributes ?? []) as { key: string; value: Obj }[];
        if (!attrs.some((a) => a.key === 'llm.request.type')) continue;
        const id = attrs.find((a) => a.key === 'gen_ai.response.id');
        if (id && typeof id.value.stringValue === 'string' && id.value.stringValue !== '') return true;
      }
  return false;
}

const skipReason = !CONF
  ? (conformanceSkip('enrichment conformance') as string)
  : !LITELLM || !AMBERFLO
    ? `processors/${!LITELLM ? 'litellm' : 'amberflo'}/index.ts is not built yet; enrichment conformance NOT checked`
    : undefined;

if (skipReason) {
  describe('enrichment conformance (span path + enrich == expected.from-slo.json)', () => {
    it('span path + enrich == expected.from-slo.json for every request', { skip: skipReason }, () => {});
  });
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'spanmeter-enrich-conf-'));
  const folders = readdirSync(CONF!, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

  function registry(): ComponentRegistry {
    const r = new ComponentRegistry();
    registerTestComponents(r);
    r.register(LITELLM!);
    r.register(AMBERFLO!);
    r.register(enrich);
    return r;
  }

  async function run(spansText: string, enrichYaml: string, mode: 'compat' | 'clean'): Promise<MeterRecord[]> {
    const file = join(tmp, `p-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      `receivers:
  test_span_source: {}
processors:
  litellm: {}
  enrich:
${enrichYaml}
  amberflo:
    mode: ${mode}
    hosted_env: agent1
    send_object_metadata: true
exporters:
  test_capture:
service:
  data_dir: ${join(tmp, `data-${Math.random().toString(36).slice(2)}`)}
  pipelines:
    conformance:
      receivers: [test_span_source]
      processors: [litellm, enrich, amberflo]
      exporters: [test_capture]
`,
    );
    const { config, errors } = await loadConfig([file], registry(), { env: {} });
    assert.deepEqual(errors.map(formatError), []);
    const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
    await svc.start();
    try {
      const src = svc.graph.nodes.find((n) => n.id === 'test_span_source')!.instance as TestSource;
      await src.emit(fromOtlpJson(JSON.parse(spansText)));
    } finally {
      await svc.shutdown(10_000);
    }
    const capture = svc.graph.nodes.find((n) => n.id === 'test_capture')!.instance as Capture;
    return (capture.received as MeterRecord[][]).flat();
  }

  /** expected.from-slo.json with the two allowed differences taken from `got`. */
  function expectation(want: MeterRecord[], got: MeterRecord[], hasResponseId: boolean, nKnown: boolean, mode: 'compat' | 'clean'): MeterRecord[] {
    return want.map((w, i) => {
      const g = got[i];
      let r: MeterRecord = { ...w };
      if (!hasResponseId && g && 'uniqueId' in w && 'uniqueId' in g) r = { ...r, uniqueId: g.uniqueId };
      if (!nKnown && w.meterApiName === 'llm_images' && g?.meterApiName === 'llm_images') r = { ...r, meterValue: g.meterValue };
      if (mode === 'clean' && r.dimensions) r = { ...r, dimensions: Object.fromEntries(Object.entries(r.dimensions).map(([k, v]) => [k, rule1(v)])) };
      return r;
    });
  }

  describe(`enrichment conformance: span path + enrich == expected.from-slo.json (${folders.length} requests)`, () => {
    const api = new FakeLitellm({ teams: [], keys: [], models: [] });
    before(async () => {
      process.env[ENV] = api.masterKey;
      await api.start();
    });
    after(async () => {
      await api.stop();
      Reflect.deleteProperty(process.env, ENV);
    });

    for (const folder of folders) {
      describe(folder, () => {
        const slo = JSON.parse(readFileSync(join(CONF!, folder, 'slo.json'), 'utf8')) as Obj;
        const want = JSON.parse(readFileSync(join(CONF!, folder, 'expected.from-slo.json'), 'utf8')) as MeterRecord[];
        const cat = catalogueFromSlo(slo);
        for (const v of VERSIONS) {
          const spansText = readFileSync(join(CONF!, folder, `spans.${v}.otlp.json`), 'utf8');
          const hasResponseId = billingSpanHasResponseId(JSON.parse(spansText) as Obj);
          it(`${v}, source litellm_api, compat`, async (t) => {
            api.catalogue = cat;
            const got = await run(
              spansText,
              `    source: litellm_api\n    litellm_api: {base_url: "${api.url}", api_key_env: ${ENV}}\n    budget: 5s\n`,
              'compat',
            );
            if (!hasResponseId) t.diagnostic('span has no gen_ai.response.id: uniqueId not compared');
            assert.deepStrictEqual(got, expectation(want, got, hasResponseId, false, 'compat'));
          });
        }
        it('v1.79, source file (YAML), model_map: catalogue, clean', async () => {
          const path = join(tmp, `${folder}.yaml`);
          writeFileSync(path, toYaml(cat));
          const spansText = readFileSync(join(CONF!, folder, 'spans.v1.79.otlp.json'), 'utf8');
          const got = await run(spansText, `    source: file\n    file: {path: ${JSON.stringify(path)}}\n    model: {model_map: catalogue}\n`, 'clean');
          assert.deepStrictEqual(got, expectation(want, got, billingSpanHasResponseId(JSON.parse(spansText) as Obj), false, 'clean'));
        });
      });
    }
  });
}

/**
 * The layout fixtures: requests/<scenario>.<layout>.otlp.json (render.ts's output, committed so
 * that `spanmeter inspect` and people can read them) and records/<scenario>.json, the records every
 * layout must produce (clean mode, hosted_env prod, send_object_metadata true), up to the gaps
 * below. `node dist/integrations/litellm/testdata/fixtures.js --write` (after `npm run build:all`) writes them anew; the tests
 * fail when the committed files differ from what render.ts gives.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { standaloneSettings } from '../../../src/standalone.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CreateSettings } from '../../../src/component.js';
import type { LlmCall } from '../../../src/data/llm-call.js';
import type { MeterRecord } from '../../../src/data/meter-record.js';
import { fromOtlpJson } from '../../../src/otlp/json.js';
import { repoRootOf } from '../../../src/repo-root.js';
import { ServiceMetrics } from '../../../src/telemetry/metrics.js';
import amberfloFactory from '../../../processors/amberflo/index.js';
import type { AmberfloConfig } from '../../../processors/amberflo/config.js';
import litellmFactory from '../../../processors/litellm/index.js';
import type { LitellmConfig } from '../../../processors/litellm/config.js';
import { configOf } from '../../../src/config/component-config.js';
import { LAYOUTS, render, type FixtureLayout } from './render.js';
import { SCENARIOS, type Scenario } from './scenarios.js';

/** Where the committed fixtures are: the source folder (tests run from dist/). */
export const TESTDATA = join(repoRootOf(fileURLToPath(import.meta.url)), 'integrations', 'litellm', 'testdata');

export const requestPath = (scenario: string, layout: FixtureLayout) => join(TESTDATA, 'requests', `${scenario}.${layout}.otlp.json`);
export const recordsPath = (scenario: string) => join(TESTDATA, 'records', `${scenario}.json`);

/**
 * What a layout cannot carry, and so where its records differ from the scenario's records (see
 * README.md's table). Dimension keys are removed from both sides before comparing; `records`
 * removes whole records of those meters; `skip` names scenarios the layout cannot express at all.
 */
export interface Gap {
  dimensions: string[];
  meters: string[];
  /** The span's times are the HTTP request's, not the LLM call's: meterTimeInMillis and llm_api_call_ms differ. */
  requestTimes?: string;
  /** Scenarios the layout cannot bill at all. */
  skip: Record<string, string>;
  /** Scenarios the layout bills otherwise (compared only in count of calls). */
  differs?: Record<string, string>;
  /** Scenarios in which only the calls at these indexes arrive (LiteLLM loses the others). */
  only: Record<string, { calls: number[]; why: string }>;
}

const NONE: Gap = { dimensions: [], meters: [], skip: {}, only: {} };
const V2_GAP: Gap = {
  // No key metadata in v2: the business unit falls back to the team's.
  dimensions: ['business_unit_id'],
  meters: ['aflo.object_metadata'],
  skip: { 'guardrail-failure': 'a pre-call refusal has no LLM span in v2: the error is on the server span only, and is not billed' },
  only: {},
};

export const GAPS: Record<FixtureLayout, Gap> = {
  'litellm.v1.child': NONE,
  'litellm.v1.root': {
    ...NONE,
    requestTimes: "the root span covers the proxy's whole request (authentication, routing, the response), so its start and duration are the request's",
    only: {
      fallback: {
        calls: [0],
        why: 'the failed attempt ends the root span; LiteLLM writes the successful fallback onto the ended span, and it is never exported',
      },
    },
  },
  'litellm.v1.request-span': NONE,
  'litellm.v1.semconv': NONE,
  'litellm.v2': V2_GAP,
  'litellm.v2.legacy': V2_GAP,
  genai: {
    // No team, key or user; the operation, not LiteLLM's call type; the exception class, not the status code.
    dimensions: ['business_unit_id', 'team', 'key_name', 'user', 'usecase', 'error_code', 'code', 'subject', 'rate', 'limit'],
    meters: ['aflo.object_metadata'],
    skip: { 'guardrail-failure': "LiteLLM's guardrail refused the request: no client call to instrument" },
    differs: { image: "without LiteLLM's call type, an image generation bills its output as text tokens, not as images and image tokens" },
    only: {},
  },
};

function settings<C>(id: string, config: C, metrics: ServiceMetrics): CreateSettings<C> {
  return standaloneSettings(id, config, { pipeline: 'fixtures', metrics });
}

/** A request through the litellm and amberflo processors (de-duplication on), as the collector runs them. */
export async function recordsOf(request: object, calls: LlmCall[] = []): Promise<MeterRecord[]> {
  const metrics = new ServiceMetrics('fixtures', { processMetrics: false });
  const records: MeterRecord[] = [];
  const amberflo = amberfloFactory.create(settings<AmberfloConfig>('amberflo', { mode: 'clean', hosted_env: 'prod', send_object_metadata: true }, metrics), {
    consume: (rs: MeterRecord[]) => {
      records.push(...rs);
      return Promise.resolve();
    },
  });
  const litellm = litellmFactory.create(settings<LitellmConfig>('litellm', configOf(litellmFactory), metrics), {
    consume: async (cs: LlmCall[]) => {
      calls.push(...cs);
      await amberflo.consume(cs);
    },
  });
  await litellm.consume(fromOtlpJson(request));
  return records;
}

/** The scenario's records: those of the layout every other is compared with (the v1.79 child). */
export function expectedRecords(s: Scenario): Promise<MeterRecord[]> {
  return recordsOf(render(s, 'litellm.v1.child'));
}

async function write(): Promise<void> {
  mkdirSync(join(TESTDATA, 'requests'), { recursive: true });
  mkdirSync(join(TESTDATA, 'records'), { recursive: true });
  for (const s of SCENARIOS) {
    for (const layout of LAYOUTS) writeFileSync(requestPath(s.name, layout), `${JSON.stringify(render(s, layout), null, 1)}\n`);
    writeFileSync(recordsPath(s.name), `${JSON.stringify(await expectedRecords(s), null, 1)}\n`);
  }
}

export function committed(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) await write();

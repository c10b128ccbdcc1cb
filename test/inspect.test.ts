/** `spanmeter inspect`: per span or payload, how it is read and what it yields, or why not. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { decodeOtlpJson, encodeOtlpProto } from '../src/otlp/index.js';
import { inspectFile } from '../src/inspect.js';
import { createRegistry } from '../src/registry.js';
import { requestPath } from '../integrations/litellm/testdata/fixtures.js';
import { unbillableRequest } from './helpers/litellm-spans.js';
import { buildRoot, repoRoot } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-inspect-'));

describe('spanmeter inspect', () => {
  it('explains every span of a request: layout and call, or why not billed', async () => {
    const r = inspectFile(requestPath('duplicate-span', 'litellm.v1.request-span'), await createRegistry());
    assert.equal(r.format, 'OTLP/JSON traces');
    assert.deepEqual(
      r.entries.map((e) => [e.outcome, e.as ?? null]),
      [
        ['not billed', null],
        ['billed', 'litellm.v1.request-span'],
        ['duplicate', 'litellm.v1.request-span'],
        ['not billed', null],
      ],
    );
    assert.match(r.entries[2]!.reason!, /LiteLLM call id/);
    assert.match(r.entries[1]!.summary!, /acompletion gpt-4o \(openai\).*tokens 11 in.*team team-a, key research-prod; success/);
  });

  it('reads protobuf (gzip too), names an unbillable span and what it lacks, and reads log payloads', async () => {
    const registry = await createRegistry();
    const pb = join(dir, 'v2.pb.gz');
    writeFileSync(pb, gzipSync(encodeOtlpProto(decodeOtlpJson(readFileSync(requestPath('image', 'litellm.v2'))))));
    const viaPb = inspectFile(pb, registry);
    assert.equal(viaPb.format, 'OTLP/protobuf traces');
    assert.equal(viaPb.entries.filter((e) => e.outcome === 'billed').length, 1);
    const odd = join(dir, 'odd.json');
    writeFileSync(odd, JSON.stringify(unbillableRequest()));
    const r = inspectFile(odd, registry);
    assert.equal(r.entries[0]!.outcome, 'not billed');
    assert.match(r.entries[0]!.reason!, /unknown_operation: gen_ai.operation.name "summarize"/);
    const slo = inspectFile(join(repoRoot(), 'test', 'fixtures', 'litellm', 'slo-anthropic-cache.json'), registry);
    assert.deepEqual(
      slo.entries.map((e) => [e.outcome, e.as]),
      [['billed', 'litellm.slo']],
    );
  });

  it('prints a report from the command line, and exits 1 for a file it cannot read', () => {
    const cli = join(buildRoot(), 'src', 'cli.js');
    const out = execFileSync(process.execPath, [cli, 'inspect', requestPath('completion', 'litellm.v2.legacy')], { encoding: 'utf8' });
    assert.match(out, /span "chat gpt-4o" [0-9a-f]{32}\/[0-9a-f]{16}: billed as litellm\.v2\.legacy/);
    assert.match(out, /span "tools\/call get_weather" .*: not billed \(not an LLM call/);
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.from([0xff, 0xff, 0xff]));
    assert.throws(
      () => execFileSync(process.execPath, [cli, 'inspect', junk], { encoding: 'utf8', stdio: 'pipe' }),
      (e: { status: number; stdout: string }) => e.status === 1 && /neither JSON nor an OTLP protobuf/.test(e.stdout),
    );
  });
});

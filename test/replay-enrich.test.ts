/**
 * Replays bill as first decided: enrichment runs before the write-ahead log, so a call replayed
 * after a crash carries what the catalogue said when it was accepted, even when the catalogue
 * changed between the crash and the restart. Each round (between kills) has its own catalogue,
 * giving the team another business unit; every call must be billed with its round's, once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertExactlyOnce, crashRun } from './helpers/crash.js';
import { readGzipJsonFiles } from './helpers/process.js';

describe('replay after a catalogue change', () => {
  it('every call keeps the enrichment of its first pass; no record twice', { timeout: 900_000 }, async (t) => {
    const conf = mkdtempSync(join(tmpdir(), 'spanmeter-replay-enrich-'));
    const catalogue = join(conf, 'catalogue.yaml');
    const writeCatalogue = (round: number) =>
      writeFileSync(catalogue, `teams:\n  - team_id: team-x\n    team_alias: Team X\n    metadata: {business_unit_id: bu-round-${round}}\n`);
    writeCatalogue(0);
    const pipeline = join(conf, 'pipeline.yaml');
    writeFileSync(
      pipeline,
      `receivers:
  otlp:
    protocols:
      http: {endpoint: "\${env:SPANMETER_OTLP_HTTP_ENDPOINT}"}
      grpc: {endpoint: "\${env:SPANMETER_OTLP_GRPC_ENDPOINT}"}
processors:
  litellm: {}
  enrich:
    source: file
    file: {path: ${JSON.stringify(catalogue)}}
  amberflo: {mode: clean}
  batch: {send_batch_size: 20, timeout: 1s}
exporters:
  file: {directory: "\${env:SPANMETER_OUT_DIR}", path: metering}
service:
  data_dir: \${env:SPANMETER_DATA_DIR}
  telemetry:
    logs: {level: warn}
    metrics: {address: "\${env:SPANMETER_METRICS_ADDRESS}"}
  pipelines:
    metering: {receivers: [otlp], processors: [litellm, enrich, amberflo, batch], exporters: [file]}
`,
    );
    try {
      const run = await crashRun({}, { args: ['run', '--config', pipeline], beforeRestart: writeCatalogue, call: { teamId: 'team-x' } });
      const records = readGzipJsonFiles(join(run.dir, 'out')).flatMap((f) => f.records);
      assertExactlyOnce(t, run, records, 'enrich from a catalogue file changed at every restart');
      const differ = records.filter((r) => {
        const round = run.ackedIn.get(String(r.uniqueId));
        return round !== undefined && (r.dimensions as Record<string, unknown>).business_unit_id !== `bu-round-${round}`;
      });
      t.diagnostic(`${differ.length} records of acknowledged calls billed otherwise than in their first pass`);
      assert.deepEqual(differ.slice(0, 5), [], `${differ.length} records differ from the first pass (directory ${run.dir})`);
      rmSync(run.dir, { recursive: true, force: true });
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  });
});

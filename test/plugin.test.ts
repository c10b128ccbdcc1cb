import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { formatError, loadConfig } from '../src/config/config.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { registerTestComponents, type Capture, type TestSource } from './helpers/components.js';
import { repoRoot } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'spanmeter-plugin-'));
const plugin = join(repoRoot(), 'examples', 'hash-dimensions', 'index.js');

function yaml(processorConfig: string): string {
  return `plugins:
  - ${plugin}
receivers:
  test_source:
processors:
  hash_dimensions:
${processorConfig}
exporters:
  test_capture:
service:
  pipelines:
    main:
      receivers: [test_source]
      processors: [hash_dimensions]
      exporters: [test_capture]
`;
}

describe('plugins', () => {
  it('loads the example plugin from pipeline.yaml and runs it end to end', async () => {
    const p = join(dir, 'ok.yaml');
    writeFileSync(p, yaml('    dimensions: [user]\n    salt: ${env:SALT}\n    length: 12'));
    const registry = new ComponentRegistry();
    registerTestComponents(registry);
    const { config, errors } = await loadConfig([p], registry, { env: { SALT: 'pepper-and-salt' } });
    assert.deepEqual(errors.map(formatError), []);
    assert.ok(registry.get('processor', 'hash_dimensions'), 'plugin factory registered');
    const svc = new Service(config!, { logger: pino({ level: 'silent' }), metricsAddress: null, processMetrics: false });
    await svc.start();
    const source = svc.graph.nodes.find((x) => x.id === 'test_source')!.instance as TestSource;
    await source.emit([
      { meterApiName: 'llm_api_call', meterTimeInMillis: 1, meterValue: 1, dimensions: { user: 'alice', team: 't1' } },
      { meterApiName: 'llm_api_call', meterTimeInMillis: 2, meterValue: 1, dimensions: { user: 'unknown', team: 't1' } },
    ]);
    await svc.shutdown(5_000);
    const capture = svc.graph.nodes.find((x) => x.id === 'test_capture')!.instance as Capture;
    const expected = createHash('sha256').update('pepper-and-salt').update('\0').update('alice').digest('hex').slice(0, 12);
    assert.deepEqual(capture.received, [
      [
        { meterApiName: 'llm_api_call', meterTimeInMillis: 1, meterValue: 1, dimensions: { user: expected, team: 't1' } },
        { meterApiName: 'llm_api_call', meterTimeInMillis: 2, meterValue: 1, dimensions: { user: 'unknown', team: 't1' } },
      ],
    ]);
  });

  it('validates plugin component configs like built-ins, with lines', async () => {
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, yaml('    dimension: [user]\n    salt: short'));
    const registry = new ComponentRegistry();
    registerTestComponents(registry);
    const { errors } = await loadConfig([p], registry, { env: {} });
    const lines = errors.map(formatError);
    assert.ok(lines.includes(`${p}:7 processors.hash_dimensions.dimension: unknown key (did you mean "dimensions"?)`), lines.join('\n'));
    assert.ok(lines.includes(`${p}:8 processors.hash_dimensions.salt: must NOT have fewer than 8 characters`), lines.join('\n'));
    assert.ok(lines.includes(`${p}:6 processors.hash_dimensions.dimensions: is required`), lines.join('\n'));
  });

  it('reports a plugin that cannot be loaded, with its line', async () => {
    const p = join(dir, 'missing.yaml');
    writeFileSync(
      p,
      `plugins:\n  - ./nowhere.js\n  - "@acme/not-installed-plugin"\nreceivers:\n  test_source:\nexporters:\n  test_capture:\nservice:\n  pipelines:\n    m:\n      receivers: [test_source]\n      exporters: [test_capture]\n`,
    );
    const registry = new ComponentRegistry();
    registerTestComponents(registry);
    const lines = (await loadConfig([p], registry, { env: {} })).errors.map(formatError);
    assert.deepEqual(lines, [
      `${p}:2 plugins[0]: cannot load plugin: plugin file not found: ${join(dir, 'nowhere.js')}`,
      `${p}:3 plugins[1]: cannot load plugin: plugin package "@acme/not-installed-plugin" is not installed (npm install @acme/not-installed-plugin)`,
    ]);
  });

  it('refuses a plugin that re-registers a built-in type', async () => {
    const registry = new ComponentRegistry();
    registerTestComponents(registry);
    const p = join(dir, 'dup.js');
    writeFileSync(
      p,
      `export default { kind: 'exporter', type: 'test_capture', description: 'x', stability: 'alpha', consumes: 'meter_events', configSchema: {type:'object'}, defaultConfig: () => ({}), create: () => ({ consume: async () => {} }) };\n`,
    );
    await assert.rejects(registry.loadPlugin(p, dir), /exporter type "test_capture" from plugin .* is already registered by test/);
  });
});

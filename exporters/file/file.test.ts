import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alternateKey, encodeBatch } from '../../integrations/amberflo/objects.js';
import { MappingCache, toMeterRecords } from '../../integrations/amberflo/mapping.js';
import { LitellmProcessor } from '../../processors/litellm/litellm.js';
import { decodeOtlpProto, encodeOtlpProto, fromOtlpJson } from '../../src/otlp/index.js';
import { otlpRequest } from '../../test/helpers/litellm-spans.js';
import { pino } from 'pino';
import { configOf, resolveComponentConfig } from '../../src/config/component-config.js';
import { commonObjectOptions } from '../../src/output/delivery.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import type { FileExporterConfig } from './config.js';
import { FileSink } from './file.js';
import factory from './index.js';

const problems = (raw: Record<string, unknown>) => resolveComponentConfig(factory, raw).problems.map((p) => p.path.join('.'));

describe('file exporter', () => {
  it('writes the exact encoded bytes under <directory>/<key>, leaving no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-file-'));
    const obj = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: Date.UTC(2026, 1, 3, 4, 5), meterValue: 1 }], { path: 'a/b' });
    await new FileSink().put(obj, { directory: dir, path: 'a/b', label: '' }, new AbortController().signal);
    const leaf = join(dir, 'a', 'b', '2026', '02', '03', '04', '05');
    assert.deepEqual(readdirSync(leaf), [obj.key.split('/').pop()]);
    assert.deepEqual(readFileSync(join(dir, obj.key)), obj.body);
  });

  it('never writes over another object: a taken key moves the object to the next derived key; a re-delivery adds nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-file-'));
    const dest = { directory: dir, path: 'p', label: '' };
    const signal = new AbortController().signal;
    const t = Date.UTC(2026, 1, 3, 4, 5);
    const a = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 1 }], { path: 'p' });
    const b = encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 2 }], { path: 'p' });
    // b as if its JSON shared a's 32-bit suffix (found in a crash test: two batches, one key, one lost).
    const collided = { ...b, key: a.key };
    const sink = new FileSink();
    await sink.put(a, dest, signal);
    await sink.put(collided, dest, signal);
    const leaf = join(dir, 'p', '2026', '02', '03', '04', '05');
    const names = () => readdirSync(leaf).sort();
    const second = alternateKey(a.key, 1);
    assert.notEqual(second, a.key);
    assert.match(second, /^p\/2026\/02\/03\/04\/05\/merged_logs_[0-9a-f]{8}\.json\.gz$/);
    assert.deepEqual(names(), [a.key, second].map((k) => k.split('/').pop()).sort());
    assert.deepEqual(readFileSync(join(dir, a.key)), a.body, 'the first object is intact');
    assert.deepEqual(readFileSync(join(dir, second)), b.body);

    // Re-deliveries (after a crash) find their own files, under the first or the derived key, even
    // compressed at another level (as another zlib could): nothing new is written.
    await sink.put(a, dest, signal);
    await sink.put(collided, dest, signal);
    await sink.put({ ...a, body: encodeBatch([{ meterApiName: 'm', meterTimeInMillis: t, meterValue: 1 }], { path: 'p', gzipLevel: 9 }).body }, dest, signal);
    assert.equal(names().length, 2);
    assert.deepEqual(readFileSync(join(dir, a.key)), a.body);
  });

  it('two real batches with the same 32-bit key both survive', async () => {
    // Seed 88787 of test/crash.test.ts once made two batches share a key (then the first 32 bits of
    // SHA-256), and the second replaced the first: ten acknowledged calls were missing from the
    // output. These two batches of the same shape (two requests of five calls each, as the crash
    // test sends them: calls 998740–998749 and 1378860–1378869) have the same CRC-32, the suffix
    // now; found by a birthday search over such batches.
    const cache = new MappingCache();
    const records = (from: number) => {
      const ids = Array.from({ length: 5 }, (_, i) => `chatcmpl-crash-88787-${from + i}`);
      const calls = LitellmProcessor.convert(decodeOtlpProto(encodeOtlpProto(fromOtlpJson(otlpRequest(ids.map((responseId) => ({ responseId })))))));
      return calls.flatMap((c) => toMeterRecords(c, { mode: 'clean', hostedEnv: 'prod', sendObjectMetadata: false }, cache));
    };
    const first = encodeBatch([...records(998740), ...records(998745)], { path: 'litellm-metering' });
    const later = encodeBatch([...records(1378860), ...records(1378865)], { path: 'litellm-metering' });
    assert.equal(later.key, first.key, 'the two batches share a key');
    assert.match(first.key, /merged_logs_4f7d1c99\.json\.gz$/);
    assert.notDeepEqual(later.body, first.body);
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-file-'));
    const sink = new FileSink();
    const dest = { directory: dir, path: 'litellm-metering', label: '' };
    await sink.put(first, dest, new AbortController().signal);
    await sink.put(later, dest, new AbortController().signal);
    assert.deepEqual(readFileSync(join(dir, first.key)), first.body);
    assert.deepEqual(readFileSync(join(dir, alternateKey(first.key, 1))), later.body);
  });

  it('writes durably in place unless spool: true (for network mounts)', () => {
    assert.equal(new FileSink().durableWrites, true);
    assert.equal(new FileSink({ durableWrites: false }).durableWrites, false);
    assert.equal(configOf(factory, {}).spool, false);
    assert.equal(configOf(factory, { spool: true }).spool, true);
    assert.deepEqual(problems({ spool: 'sometimes' }), ['spool']);
  });

  it('defaults to ./data/out and litellm-metering; rejects a `when` value outside allowed', () => {
    const d = configOf(factory, {});
    assert.equal(d.directory, './data/out');
    assert.equal(d.path, 'litellm-metering');
    assert.deepEqual(problems({ when: { value: 'x', in: [''], allowed: [''] } }), ['when.value']);
  });

  it('hands the shared keys to the delivery converted: timeout and retry waits in milliseconds', () => {
    const c = configOf(factory, {
      timeout: '5s',
      max_records_per_object: 500,
      compression_level: 9,
      max_concurrent_uploads: 2,
      retry_on_failure: { initial_interval: '250ms', max_elapsed_time: '0s' },
    });
    assert.deepEqual(commonObjectOptions(c), {
      retry: { enabled: true, initialMs: 250, maxMs: 30_000, multiplier: 2, jitter: 0.5, maxElapsedMs: 0, attemptTimeoutMs: 5_000 },
      maxRecordsPerObject: 500,
      gzipLevel: 9,
      maxConcurrentUploads: 2,
    });
  });

  it('a dormant exporter (`when` does not match) acknowledges without writing; an active one writes under its route', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spanmeter-file-'));
    const settings = (config: FileExporterConfig) => {
      const m = new ServiceMetrics('t', { processMetrics: false });
      return {
        id: 'file',
        config,
        logger: pino({ level: 'silent' }),
        registry: m.registry,
        metrics: m.forComponent('exporter', 'file'),
        dataDir: join(dir, 'state'),
        instanceId: 't',
      };
    };
    const records = [
      { meterApiName: 'm', meterTimeInMillis: Date.UTC(2026, 1, 3, 4, 5), meterValue: 1, dimensions: { bu: 'a' } },
      { meterApiName: 'm', meterTimeInMillis: Date.UTC(2026, 1, 3, 4, 5), meterValue: 2, dimensions: { bu: 'b' } },
    ];
    const dormantCfg = configOf(factory, { directory: join(dir, 'dormant'), when: { value: 's3', in: [''] } });
    const dormant = factory.create(settings(dormantCfg));
    await dormant.consume(records);
    assert.equal(existsSync(join(dir, 'dormant')), false);

    const cfg = configOf(factory, {
      directory: join(dir, 'out'),
      path: 'p',
      routing: { dimension: 'bu', routes: { b: { directory: join(dir, 'b'), path: 'q' } } },
    });
    const active = factory.create(settings(cfg));
    await active.start?.({ reportFatalError: () => undefined, setHealthDetail: () => undefined });
    await active.consume(records);
    await active.shutdown?.(Date.now() + 5_000);
    const a = encodeBatch([records[0]!], { path: 'p' });
    const b = encodeBatch([records[1]!], { path: 'q' });
    assert.deepEqual(readFileSync(join(dir, 'out', a.key)), a.body);
    assert.deepEqual(readFileSync(join(dir, 'b', b.key)), b.body);
  });
});

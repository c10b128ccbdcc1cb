/**
 * The live status page, rendered in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): components (a dormant exporter marked dormant), the open batch and when it is
 * cut, the last object written and the delivery backlog in words, errors, a throughput chart that
 * draws data, the metered usage by team and by model, and spans that could not be billed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { loadConfig } from '../src/config/config.js';
import { createRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { createLogger } from '../src/telemetry/logger.js';
import { fromOtlpJson } from '../src/otlp/json.js';
import { AdminServer } from '../src/telemetry/admin.js';
import { aggregateErrors, aggregateReadyDetail, aggregateSeries, aggregateStatus, type WorkerReport } from '../src/telemetry/aggregate.js';
import { statusWords } from '../src/telemetry/status-words.js';
import { registerTestComponents, type TestSource } from './helpers/components.js';
import { otlpRequest, unbillableRequest, type CallSpec } from './helpers/litellm-spans.js';
import { http } from './helpers/process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'spanmeter-status-'));

describe('status page', () => {
  it(
    'shows pipelines, dormant exporters, the open batch, the last object, delivery, errors and a throughput chart with data',
    { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)` },
    async (t) => {
      const p = join(dir, 'status.yaml');
      writeFileSync(
        p,
        `receivers:\n  test_source:\nprocessors:\n  test_tag:\n  batch:\n    send_batch_size: 100\n    merge_wait: 0s\n    timeout: 10m\nexporters:\n  file:\n    directory: ${join(dir, 'out')}\n    path: metering\n  file/spare:\n    when: { value: "", in: [spare] }\n    directory: ${join(dir, 'spare')}\nservice:\n  data_dir: ${join(dir, 'data')}\n  durability:\n    sync_delay: 1ms\n  pipelines:\n    metering:\n      receivers: [test_source]\n      processors: [test_tag, batch]\n      exporters: [file, file/spare]\n`,
      );
      const registry = await createRegistry();
      registerTestComponents(registry);
      const { config, errors } = await loadConfig([p], registry, { env: {} });
      assert.deepEqual(errors, []);
      const logs: string[] = [];
      const logger = createLogger('info', { write: (s: string) => logs.push(s) } as unknown as NodeJS.WritableStream);
      const svc = new Service(config!, { logger, metricsAddress: '127.0.0.1:0', processMetrics: false });
      await svc.start();
      const base = `http://${svc.adminAddress}`;
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      try {
        // Traffic over a few samples so the chart has a line.
        const source = svc.graph.nodes.find((n) => n.id === 'test_source')!.instance as TestSource;
        const start = Date.now();
        let sent = 0;
        const records = (n: number) =>
          Array.from({ length: n }, () => ({
            meterApiName: 'llm_api_call',
            meterTimeInMillis: start,
            meterValue: 1,
            uniqueId: `call-${sent++}`,
            dimensions: {},
          }));
        // 100 records: one batch cut by size and written as a file; 30 more wait in the open batch.
        await source.emit(records(100));
        const deadline = Date.now() + 15_000;
        const lastObject = () =>
          ((svc.status().components as Record<string, Record<string, unknown>>)['exporter:file']?.lastObject ?? null) as { key: string } | null;
        while (!lastObject() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(lastObject(), 'the first batch was written');
        await source.emit(records(30));
        // The chart's samples (taken by hand: a line needs several).
        for (let s = 0; s < 6; s++) await svc.series.sample(start + (s + 1) * 1000);
        logger.warn({ component: 'exporter/test' }, 'upload to the bucket failed; will retry');
        const html = await http('GET', `${base}/`);
        assert.equal(html.status, 200);
        assert.match(String(html.headers['content-type']), /text\/html/);

        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(`${base}/status/ui`);
        await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
        assert.equal(await page.textContent('#state'), 'ready');
        const components = Object.fromEntries(
          await page.$$eval('#components tbody tr', (trs) => trs.map((tr) => [tr.cells[0]!.textContent, tr.cells[1]!.textContent])),
        );
        assert.deepEqual(Object.keys(components).sort(), [
          'exporter:file',
          'exporter:file/spare',
          'processor:metering/batch',
          'processor:metering/test_tag',
          'processor:metering/wal',
          'receiver:test_source',
        ]);
        assert.equal(components['exporter:file'], 'started');
        assert.match(components['exporter:file/spare'], /^dormant: the selector is \(unset\), active only for spare$/);
        assert.equal(await page.textContent('#wal tbody tr td:first-child'), 'metering');
        // The open batch: its records, its size, and when it is cut (by count or by the 10 min timeout).
        const batch = (await page.textContent('#batches tbody')) ?? '';
        assert.match(
          batch,
          /batch30 records \([\d.]+ KiB\) in the open batch, the first for \d+ (ms|s); it is cut at 100 records or at \d\d:\d\d:\d\d UTC \(in (9 min \d+ s|10 min)\)/,
        );
        // The last object written (its key) and the delivery backlog, in words.
        const delivery = await page.$$eval('#delivery tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        assert.equal(delivery.length, 1, 'one active object exporter (the dormant one has no row)');
        assert.equal(delivery[0]![0], 'file');
        assert.match(
          delivery[0]![1],
          new RegExp(`^${lastObject()!.key.replace(/[.]/g, '\\.')} \\(100 records, [\\d.]+ (B|KiB)\\) at \\d\\d:\\d\\d:\\d\\d UTC, \\d+ (ms|s) ago$`),
        );
        assert.equal(delivery[0]![2], 'everything handed to it is delivered');
        assert.match((await page.textContent('#errors tbody')) ?? '', /upload to the bucket failed; will retry/);
        const legend = (await page.textContent('#legend')) ?? '';
        assert.match(legend, /receiver test_source accepted\/s/);
        const paths = await page.$$eval('path.series', (ps) => ps.map((p) => p.getAttribute('d') ?? ''));
        assert.ok(paths.length >= 2, `expected several series, got ${paths.length}`);
        assert.ok(
          paths.every((d) => (d.match(/L/g) ?? []).length >= 3),
          'each line has several points',
        );

        // The screenshot: the chart area must show coloured lines (series), not just the grid.
        const png = PNG.sync.read(await (await page.$('#chart'))!.screenshot());
        let coloured = 0;
        for (let i = 0; i < png.data.length; i += 4) {
          const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
          if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
        }
        writeFileSync(join(dir, 'status-chart.png'), PNG.sync.write(png));
        // The new panels, on screen: the open batch and delivery tables are visible and hold text.
        for (const sel of ['#batches', '#delivery']) {
          const box = await (await page.$(sel))!.boundingBox();
          assert.ok(box && box.width > 300 && box.height > 30, `${sel} is laid out: ${JSON.stringify(box)}`);
        }
        const shot = join(dir, 'status-page.png');
        writeFileSync(shot, await page.screenshot({ fullPage: true }));
        t.diagnostic(`page screenshot: ${shot}`);
        t.diagnostic(`chart ${png.width}x${png.height}: ${coloured} coloured pixels (screenshot: ${join(dir, 'status-chart.png')})`);
        assert.ok(coloured > 1000, `the chart shows too little data: ${coloured} coloured pixels`);
      } finally {
        await browser.close();
        await svc.shutdown(5_000);
      }
    },
  );

  it('shows metered usage by team and by model (last hour, last day), the same as the metrics', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`);
      return;
    }
    const p = join(dir, 'usage.yaml');
    writeFileSync(
      p,
      `receivers:\n  test_span_source:\nprocessors:\n  litellm:\n  amberflo:\nexporters:\n  test_capture:\nservice:\n  data_dir: ${join(dir, 'usage-data')}\n  durability:\n    enabled: false\n  pipelines:\n    metering:\n      receivers: [test_span_source]\n      processors: [litellm, amberflo]\n      exporters: [test_capture]\n`,
    );
    const registry = await createRegistry();
    registerTestComponents(registry);
    const { config, errors } = await loadConfig([p], registry, { env: {} });
    assert.deepEqual(errors, []);
    const svc = new Service(config!, {
      logger: createLogger('warn', { write: () => true } as unknown as NodeJS.WritableStream),
      metricsAddress: '127.0.0.1:0',
      processMetrics: false,
    });
    await svc.start();
    const base = `http://${svc.adminAddress}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      // Three teams with different volumes, two models; the calls come in two minutes.
      const plan: [team: string, model: string, calls: number, prompt: number][] = [
        ['search', 'gpt-4o', 12, 900],
        ['search', 'gpt-4o-mini', 6, 100],
        ['support', 'gpt-4o-mini', 9, 300],
        ['research', 'gpt-4o', 3, 2000],
      ];
      const calls: CallSpec[] = plan.flatMap(([teamId, model, n, promptTokens], k) =>
        Array.from({ length: n }, (_, i) => ({ responseId: `chatcmpl-usage-${k}-${i}`, teamId, model, promptTokens, completionTokens: 50 })),
      );
      const source = svc.graph.nodes.find((n) => n.id === 'test_span_source')!.instance as TestSource;
      await source.emit(fromOtlpJson(otlpRequest(calls.slice(0, 10))));
      svc.usage.tick();
      await source.emit(fromOtlpJson(otlpRequest(calls.slice(10))));
      // A span that looks like an LLM call (an operation, token usage) that spanmeter does not bill.
      await source.emit(fromOtlpJson(unbillableRequest('summarize doc', BigInt(Date.now()) * 1_000_000n)));
      const want = (key: 0 | 1) => {
        const m = new Map<string, { tokens: number; calls: number }>();
        for (const [team, model, n, prompt] of plan) {
          const name = key === 0 ? team : model;
          const e = m.get(name) ?? { tokens: 0, calls: 0 };
          e.tokens += n * (prompt + 50);
          e.calls += n;
          m.set(name, e);
        }
        return [...m].sort((a, b) => b[1].tokens - a[1].tokens);
      };

      const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
      await page.goto(`${base}/status/ui`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      const bars = (id: string) =>
        page.$$eval(`#${id} rect.bar`, (rs) =>
          rs.map(
            (r) =>
              [
                r.getAttribute('data-name'),
                Number(r.getAttribute('data-tokens')),
                Number(r.getAttribute('data-calls')),
                Number(r.getAttribute('width')),
              ] as const,
          ),
        );
      for (const [id, key] of [
        ['usage-team', 0],
        ['usage-model', 1],
      ] as const) {
        const got = await bars(id);
        assert.deepEqual(
          got.map(([name, tokens, n]) => [name, { tokens, calls: n }]),
          want(key),
          id,
        );
        // Bars are drawn to scale: widths in the order of the tokens, the largest the widest.
        for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]![3] >= got[i]![3], `${id}: bars in order of size`);
        assert.ok(got[0]![3] > 3 * got[got.length - 1]![3], `${id}: the largest bar is clearly longer`);
      }
      const total = calls.length;
      assert.match((await page.textContent('#usage-total')) ?? '', new RegExp(`^last hour: ${total} calls \\(0 failed\\)`));
      // The calls by layout, and the span that could not be billed, with what it lacked.
      const spans = (await page.textContent('#spans tbody')) ?? '';
      assert.match(spans, new RegExp(`${total} LLM calls \\(litellm\\.v1\\.child ${total}\\) from \\d+ spans`));
      assert.match(
        spans,
        /1 span not billed: unknown_operation 1 \(last at .* UTC: span "summarize doc", gen_ai.operation.name "summarize" is not an operation spanmeter bills\)/,
      );
      const spansBox = await (await page.$('#spans'))!.boundingBox();
      assert.ok(spansBox && spansBox.width > 300 && spansBox.height > 30, `#spans is laid out: ${JSON.stringify(spansBox)}`);
      writeFileSync(join(dir, 'status-usage-page.png'), await page.screenshot({ fullPage: true }));
      await page.click('#usage .tabs button[data-window="day"]');
      assert.match((await page.textContent('#usage-total')) ?? '', new RegExp(`^last day: ${total} calls`));

      // The same figures in the metrics.
      const metrics = (await http('GET', `${base}/metrics`)).body.toString();
      for (const [team, model, n] of plan) assert.match(metrics, new RegExp(`^spanmeter_metered_calls_total\\{team="${team}",model="${model}"\\} ${n}$`, 'm'));
      assert.match(metrics, /^spanmeter_metered_tokens_total\{team="research",model="gpt-4o",direction="in"\} 6000$/m);

      // The screenshot: the usage section shows coloured bars.
      const png = PNG.sync.read(await (await page.$('#usage'))!.screenshot());
      let coloured = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
      }
      writeFileSync(join(dir, 'status-usage.png'), PNG.sync.write(png));
      t.diagnostic(`usage ${png.width}x${png.height}: ${coloured} coloured pixels (screenshot: ${join(dir, 'status-usage.png')})`);
      assert.ok(coloured > 2000, `the usage chart shows too little: ${coloured} coloured pixels`);
    } finally {
      await browser.close();
      await svc.shutdown(5_000);
    }
  });

  it(
    "with --workers: the version, every component, each worker's log, open batch and delivery, and the merged chart",
    { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` },
    async () => {
      // What the primary serves, built by the same functions from two workers' reports.
      const now = Date.now();
      const iso = (ms: number) => new Date(now + ms).toISOString();
      const report = (index: number, records: number): WorkerReport => {
        const components = {
          'processor:m/batch': {
            openBatch: { records, bytes: records * 450, openedAt: iso(-20_000), cutAt: iso(280_000), cutAtRecords: 100, timeoutMs: 300_000 },
            waitingRecords: 0,
            pendingRecords: records,
          },
          'exporter:file': {
            queuedRecords: 0,
            lastObject: { key: `p/2026/01/01/00/00/merged_logs_0000000${index}.json.gz`, destination: 'out', records: 100, bytes: 900, at: iso(-3_000) },
          },
        };
        const states = {
          'receiver:otlp': { state: 'started' },
          'processor:m/batch': { state: 'started' },
          'exporter:file': { state: 'started' },
          'exporter:s3': { state: 'dormant', dormant: 'dormant: the selector is (unset), active only for s3' },
        };
        const status = {
          version: '9.9.9',
          instanceId: `host-w${index}`,
          state: 'running',
          pid: 100 + index,
          states,
          durability: { usedBytes: 1024, maxDiskBytes: 1 << 30 },
          wal: [{ pipeline: 'm', bytes: 2048, lastSeq: 10, forwardedSeq: 10, checkpoint: 5 }],
          components,
        };
        return {
          index,
          pid: 100 + index,
          ready: true,
          status: { ...status, words: statusWords(status, now) },
          detail: { components: Object.fromEntries(Object.entries(states).map(([k, v]) => [k, v.state])) },
          series: {
            intervalMs: 1000,
            t: [now - 2000, now - 1000, now],
            series: { 'receiver otlp accepted/s': { kind: 'rate', values: [null, 300 + index * 100, 200] } },
          },
          errors: [{ time: iso(-1000), level: 'warn', msg: `worker ${index} warning` } as { time: string }],
        };
      };
      const reports = [report(0, 12), report(1, 30)];
      const admin = new AdminServer(
        '127.0.0.1:0',
        { metrics: async () => '', contentType: 'text/plain' },
        {
          ready: () => true,
          detail: () => aggregateReadyDetail(reports, 2),
          status: () => aggregateStatus(reports, { version: '9.9.9', instanceId: 'host', workers: 2 }),
          series: () => aggregateSeries(reports.map((r) => r.series!)),
          usage: () => null,
          errors: () => aggregateErrors(reports),
        },
      );
      await admin.start();
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(`http://${admin.boundAddress}/`);
        await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
        assert.equal(await page.textContent('#version'), 'v9.9.9 · host · 2 workers');
        const components = await page.$$eval('#components tbody tr', (trs) => trs.map((tr) => `${tr.cells[0]!.textContent}=${tr.cells[1]!.textContent}`));
        assert.deepEqual(components.sort(), [
          'exporter:file=started',
          'exporter:s3=dormant: the selector is (unset), active only for s3',
          'processor:m/batch=started',
          'receiver:otlp=started',
        ]);
        assert.deepEqual(await page.$$eval('#wal tbody tr td:first-child', (tds) => tds.map((td) => td.textContent)), ['worker 0 m', 'worker 1 m']);
        const batches = await page.$$eval('#batches tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        assert.deepEqual(
          batches.map((b) => b[0]),
          ['worker 0 m/batch', 'worker 1 m/batch'],
        );
        assert.match(batches[0]![1], /^12 records \([\d.]+ KiB\) in the open batch, the first for 2\d s; it is cut at 100 records or at/);
        assert.match(batches[1]![1], /^30 records /);
        const delivery = await page.$$eval('#delivery tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        assert.deepEqual(
          delivery.map((d) => d[0]),
          ['worker 0 file', 'worker 1 file'],
        );
        assert.match(delivery[1]![1], /^p\/2026\/01\/01\/00\/00\/merged_logs_00000001\.json\.gz \(100 records, 900 B\)/);
        assert.match((await page.textContent('#errors tbody')) ?? '', /worker 1 warning/);
        assert.match((await page.textContent('#legend')) ?? '', /receiver otlp accepted\/s 400/);
        writeFileSync(join(dir, 'status-workers.png'), await page.screenshot({ fullPage: true }));
      } finally {
        await browser.close();
        await admin.stop();
      }
    },
  );
});

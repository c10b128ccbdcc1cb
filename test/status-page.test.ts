/**
 * The live status page, rendered in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): components, backlog, errors, a throughput chart that draws data, and the
 * metered usage by team and by model.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { loadConfig } from '../src/config/config.js';
import { ComponentRegistry } from '../src/registry.js';
import { Service } from '../src/service.js';
import { createLogger } from '../src/telemetry/logger.js';
import { createRegistry } from '../src/registry.js';
import { fromOtlpJson } from '../src/otlp/json.js';
import { registerTestComponents, type TestSource } from './helpers/components.js';
import { otlpRequest, type CallSpec } from './helpers/litellm-spans.js';
import { http } from './helpers/process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'spanmeter-status-'));

describe('status page', () => {
  it('shows pipelines, backlog, errors and a throughput chart with data', async (t) => {
    if (!existsSync(CHROMIUM)) return t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`);
    const p = join(dir, 'status.yaml');
    writeFileSync(
      p,
      `receivers:\n  test_source:\nprocessors:\n  test_tag:\nexporters:\n  test_capture:\nservice:\n  data_dir: ${join(dir, 'data')}\n  durability:\n    sync_delay: 1ms\n  pipelines:\n    metering:\n      receivers: [test_source]\n      processors: [test_tag]\n      exporters: [test_capture]\n`,
    );
    const registry = new ComponentRegistry();
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
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      // Traffic over a few samples so the chart has a line.
      const source = svc.graph.nodes.find((n) => n.id === 'test_source')!.instance as TestSource;
      const start = Date.now();
      for (let s = 0; s < 6; s++) {
        const batch = Array.from({ length: 50 + s * 20 }, (_, i) => ({ meterApiName: 'llm_api_call', meterTimeInMillis: i, meterValue: 1 }));
        await source.emit(batch);
        await svc.series.sample(start + (s + 1) * 2000);
      }
      logger.warn({ component: 'exporter/test' }, 'upload to the bucket failed; will retry');
      const html = await http('GET', `${base}/`);
      assert.equal(html.status, 200);
      assert.match(String(html.headers['content-type']), /text\/html/);

      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`${base}/status/ui`);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
      assert.equal(await page.textContent('#state'), 'ready');
      const components = await page.$$eval('#components tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(components.sort(), ['exporter:test_capture', 'processor:metering/test_tag', 'processor:metering/wal', 'receiver:test_source']);
      assert.equal(await page.textContent('#wal tbody tr td:first-child'), 'metering');
      assert.match((await page.textContent('#errors tbody')) ?? '', /upload to the bucket failed; will retry/);
      const legend = (await page.textContent('#legend')) ?? '';
      assert.match(legend, /receiver test_source accepted\/s/);
      const paths = await page.$$eval('path.series', (ps) => ps.map((p) => p.getAttribute('d') ?? ''));
      assert.ok(paths.length >= 2, `expected several series, got ${paths.length}`);
      assert.ok(paths.every((d) => (d.match(/L/g) ?? []).length >= 3), 'each line has several points');

      // The screenshot: the chart area must show coloured lines (series), not just the grid.
      const png = PNG.sync.read(await (await page.$('#chart'))!.screenshot());
      let coloured = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
      }
      writeFileSync(join(dir, 'status-chart.png'), PNG.sync.write(png));
      t.diagnostic(`chart ${png.width}x${png.height}: ${coloured} coloured pixels (screenshot: ${join(dir, 'status-chart.png')})`);
      assert.ok(coloured > 1000, `the chart shows too little data: ${coloured} coloured pixels`);
    } finally {
      await browser.close();
      await svc.shutdown(5_000);
    }
  });

  it('shows metered usage by team and by model (last hour, last day), the same as the metrics', async (t) => {
    if (!existsSync(CHROMIUM)) return t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`);
    const p = join(dir, 'usage.yaml');
    writeFileSync(
      p,
      `receivers:\n  test_span_source:\nprocessors:\n  litellm:\n  amberflo:\nexporters:\n  test_capture:\nservice:\n  data_dir: ${join(dir, 'usage-data')}\n  durability:\n    enabled: false\n  pipelines:\n    metering:\n      receivers: [test_span_source]\n      processors: [litellm, amberflo]\n      exporters: [test_capture]\n`,
    );
    const registry = await createRegistry();
    registerTestComponents(registry);
    const { config, errors } = await loadConfig([p], registry, { env: {} });
    assert.deepEqual(errors, []);
    const svc = new Service(config!, { logger: createLogger('warn', { write: () => true } as unknown as NodeJS.WritableStream), metricsAddress: '127.0.0.1:0', processMetrics: false });
    await svc.start();
    const base = `http://${svc.adminAddress}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
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
      const bars = (id: string) => page.$$eval(`#${id} rect.bar`, (rs) => rs.map((r) => [r.getAttribute('data-name'), Number(r.getAttribute('data-tokens')), Number(r.getAttribute('data-calls')), Number(r.getAttribute('width'))] as const));
      for (const [id, key] of [['usage-team', 0], ['usage-model', 1]] as const) {
        const got = await bars(id);
        assert.deepEqual(got.map(([name, tokens, n]) => [name, { tokens, calls: n }]), want(key), id);
        // Bars are drawn to scale: widths in the order of the tokens, the largest the widest.
        for (let i = 1; i < got.length; i++) assert.ok(got[i - 1]![3] >= got[i]![3], `${id}: bars in order of size`);
        assert.ok(got[0]![3] > 3 * got[got.length - 1]![3], `${id}: the largest bar is clearly longer`);
      }
      const total = calls.length;
      assert.match((await page.textContent('#usage-total')) ?? '', new RegExp(`^last hour: ${total} calls \\(0 failed\\)`));
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
});

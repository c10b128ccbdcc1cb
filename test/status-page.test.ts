/**
 * The live status page, rendered in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): components, backlog, errors, and a throughput chart that draws data.
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
import { registerTestComponents, type TestSource } from './helpers/components.js';
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
});

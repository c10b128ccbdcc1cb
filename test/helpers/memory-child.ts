/**
 * Child process for the memory test: the otlp receiver (HTTP, defaults) feeding the litellm
 * processor, whose calls go to a sink that acknowledges after `SINK_DELAY_MS` (standing in for the
 * write-ahead log). Reports its address, then answers "report" with its peak and current RSS.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { OtlpReceiver } from '../../receivers/otlp/otlp.js';
import otlpFactory from '../../receivers/otlp/index.js';
import { configOf } from '../../src/config/component-config.js';
import litellm from '../../processors/litellm/index.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import type { SpanBatch } from '../../src/data/span.js';
import { ServiceMetrics } from '../../src/telemetry/metrics.js';
import type { Consumer } from '../../src/component.js';

const SINK_DELAY_MS = Number(process.env.SINK_DELAY_MS ?? 20);
const metrics = new ServiceMetrics('mem', { processMetrics: false });
const logger = pino({ level: 'silent' });
const base = { logger, registry: metrics.registry, dataDir: mkdtempSync(join(tmpdir(), 'spanmeter-mem-')), instanceId: 'mem' };
let calls = 0;
const sink: Consumer<LlmCall[]> = {
  consume: (c) =>
    new Promise((resolve) => {
      calls += c.length;
      setTimeout(resolve, SINK_DELAY_MS);
    }),
};
const processor = litellm.create(
  { ...base, id: 'litellm', pipeline: 'p', config: configOf(litellm), metrics: metrics.forComponent('processor', 'litellm') },
  sink,
) as unknown as Consumer<SpanBatch>;
const config = configOf(otlpFactory, { protocols: { http: { endpoint: '127.0.0.1:0' }, grpc: { enabled: false } } });
const rx = new OtlpReceiver({ ...base, id: 'otlp', config, metrics: metrics.forComponent('receiver', 'otlp') }, processor);
await rx.start();

const rss = () => {
  const ru = process.resourceUsage();
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return {
    peakRssMb: ru.maxRSS / 1024,
    rssMb: m.rss / 1048576,
    calls,
    heap: `heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, arrayBuffers ${mb(m.arrayBuffers)} MB`,
  };
};
process.send!({ address: rx.boundAddresses().http, ...rss() });
process.on('message', (m) => {
  if (m === 'report') process.send!(rss());
  if (m === 'exit') void rx.shutdown(Date.now() + 1000).then(() => process.exit(0));
});

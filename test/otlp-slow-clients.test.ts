/**
 * Slow clients cannot starve the others: 64 slowloris connections (headers trickled) and 64 slow
 * bodies (Content-Length 100000, one byte a second), all reconnecting as soon as they are cut,
 * run beside valid traffic, which keeps getting 200 within its usual latency. Each deadline cuts
 * when configured (not at Node's 30 s check interval).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { metricValue, request, startTestReceiver, type TestReceiver } from '../receivers/otlp/testing.js';
import { otlpRequest } from './helpers/litellm-spans.js';

const SLOW = 64;
const ATTACK_MS = 12_000;

interface Attacker {
  stop(): void;
  /** Connections opened, and how long each one lasted until the server closed it (ms). */
  opened: number;
  lifetimes: number[];
  statuses: string[];
}

/** Opens `n` connections that each run `drip` until the server closes them, then reconnects. */
function attack(port: number, n: number, head: string, drip: (s: net.Socket, i: number) => void, everyMs: number): Attacker {
  let running = true;
  const a: Attacker = { stop: () => (running = false), opened: 0, lifetimes: [], statuses: [] };
  const open = () => {
    if (!running) return;
    a.opened++;
    const started = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(head);
      timer = setInterval(() => {
        if (!running) return s.destroy();
        drip(s, i++);
      }, everyMs);
    });
    s.on('data', (d: Buffer) => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'));
      if (m) a.statuses.push(m[1]!);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      if (running) a.lifetimes.push(Date.now() - started);
      setTimeout(open, 20);
    });
  };
  for (let k = 0; k < n; k++) open();
  return a;
}

describe('otlp receiver with slow clients', () => {
  let r: TestReceiver;
  let port: number;
  before(async () => {
    r = await startTestReceiver({
      protocols: { grpc: { enabled: false }, http: { read_timeout: '8s', header_timeout: '2s', max_concurrent_requests: 64 } },
    });
    port = Number(new URL(r.httpBase).port);
  });
  after(() => r.stop());

  it('valid traffic keeps getting 200 within its usual latency while slowloris and slow bodies run', async (t) => {
    const body = JSON.stringify(otlpRequest([{ responseId: 'slow-a' }]));
    const headers = { 'content-type': 'application/json' };
    const send = async () => {
      const t0 = performance.now();
      const res = await request(`${r.httpBase}/v1/traces`, { headers, body });
      return { status: res.status, ms: performance.now() - t0 };
    };
    // Usual latency: the same requests before the attack.
    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) baseline.push((await send()).ms);

    const slowloris = attack(port, SLOW, 'POST /v1/traces HTTP/1.1\r\nHost: x\r\n', (s, i) => s.write(`X-${i}: y\r\n`), 500);
    const slowBody = attack(
      port,
      SLOW,
      'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
      (s) => s.write('{'),
      1000,
    );
    const during: { status: number; ms: number }[] = [];
    const end = Date.now() + ATTACK_MS;
    await new Promise((res) => setTimeout(res, 500)); // every attacker connected and holding
    while (Date.now() < end) {
      during.push(await send());
      await new Promise((res) => setTimeout(res, 50));
    }
    slowloris.stop();
    slowBody.stop();

    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const p = (xs: number[], q: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    const lat = during.map((d) => d.ms);
    t.diagnostic(
      `valid requests during the attack: ${during.length}, statuses ${[...new Set(during.map((d) => d.status))]}; latency p50 ${p(lat, 0.5).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (before: p50 ${p(baseline, 0.5).toFixed(1)} ms, max ${Math.max(...baseline).toFixed(1)} ms)`,
    );
    t.diagnostic(
      `slowloris: ${slowloris.opened} connections, lifetimes ${p(slowloris.lifetimes, 0.5)}–${Math.max(...slowloris.lifetimes)} ms; slow bodies: ${slowBody.opened}, lifetimes ${p(slowBody.lifetimes, 0.5)}–${Math.max(...slowBody.lifetimes)} ms, answers ${[...new Set(slowBody.statuses)]}`,
    );

    assert.ok(during.length >= 50, `enough valid requests were sent (${during.length})`);
    assert.deepEqual([...new Set(during.map((d) => d.status))], [200], 'every valid request got 200');
    // Usual latency: the median stays of the same order, and no request waited for a deadline.
    assert.ok(p(lat, 0.5) < Math.max(50, 10 * p(baseline, 0.5)), `median ${p(lat, 0.5)} ms vs ${p(baseline, 0.5)} ms before`);
    assert.ok(Math.max(...lat) < 1000, `slowest valid request ${Math.max(...lat)} ms`);

    // Deadlines hold within their configured value plus the one-second check interval.
    assert.ok(slowloris.lifetimes.length >= SLOW, 'slowloris connections were cut and came back');
    assert.ok(Math.max(...slowloris.lifetimes) < 2000 + 1500, `slowloris cut after header_timeout (max ${Math.max(...slowloris.lifetimes)} ms)`);
    assert.ok(slowBody.lifetimes.length >= SLOW, 'slow bodies were cut and came back');
    assert.ok(
      Math.max(...slowBody.lifetimes) < 5000 + 1500,
      `slow bodies cut by min_body_rate in the first 5 s window (max ${Math.max(...slowBody.lifetimes)} ms)`,
    );
    assert.ok(slowBody.statuses.includes('408'), 'slow bodies were answered 408');
    assert.ok(slowloris.statuses.includes('408'), 'slowloris connections were answered 408');
    const cut = await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'client_error' });
    assert.ok(
      cut >= slowloris.lifetimes.length + slowBody.lifetimes.length,
      `every cut counted (${cut} for ${slowloris.lifetimes.length + slowBody.lifetimes.length})`,
    );
  });

  it('read_timeout cuts a body that arrives fast enough but takes longer than the timeout', async () => {
    const started = Date.now();
    const status = await new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      // 20 KiB/s: above min_body_rate (10 KiB/s), but 400 KiB would take 20 s (read_timeout is 8 s).
      s.on('connect', () => {
        s.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 409600\r\n\r\n');
        const timer = setInterval(() => s.write(Buffer.alloc(2048, 32)), 100);
        s.on('close', () => clearInterval(timer));
      });
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('error', () => {});
      s.on('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 'closed'));
    });
    const took = Date.now() - started;
    assert.equal(status, '408');
    assert.ok(took >= 8000 && took < 8000 + 1500, `cut after ${took} ms (read_timeout 8 s)`);
  });
});

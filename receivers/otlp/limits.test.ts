/** The otlp receiver's memory budget for decoded data (max_decoded_in_flight). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CapturingConsumer, metricValue, request, startTestReceiver, type TestReceiver } from './testing.js';
import { otlpRequest } from '../../test/helpers/litellm-spans.js';
import { decodedUnits } from './otlp.js';
import { decodeOtlpJson } from '../../src/otlp/index.js';

describe('otlp receiver: decoded-data budget', () => {
  let r: TestReceiver;
  const body = (id: string) => JSON.stringify(otlpRequest([{ responseId: id }]));
  before(async () => {
    const next = new CapturingConsumer();
    next.delayMs = 400; // the pipeline acknowledges slowly: data stays in flight
    // One request's spans and attributes exceed the budget: alone it still fits.
    r = await startTestReceiver({ protocols: { grpc: { enabled: false } }, max_decoded_in_flight: 10, retry_after: '2s' }, next);
  });
  after(() => r.stop());

  it('counts spans plus attributes', () => {
    const units = decodedUnits(decodeOtlpJson(body('u')));
    assert.ok(units > 10, `one request is ${units} units`);
  });

  it('a request alone always fits; one more while it is in flight gets 429 + Retry-After', async () => {
    const headers = { 'content-type': 'application/json' };
    const first = request(`${r.httpBase}/v1/traces`, { headers, body: body('a') });
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(r.rx.decodedUnitsInFlight > 10);
    const second = await request(`${r.httpBase}/v1/traces`, { headers, body: body('b') });
    assert.equal(second.status, 429);
    assert.equal(second.headers['retry-after'], '2');
    assert.match(JSON.parse(second.body.toString()).message, /max_decoded_in_flight/);
    assert.equal((await first).status, 200);
    assert.equal(r.rx.decodedUnitsInFlight, 0, 'released once answered');
    const again = await request(`${r.httpBase}/v1/traces`, { headers, body: body('b') });
    assert.equal(again.status, 200);
    assert.equal(await metricValue(r.metrics.registry, 'spanmeter_receiver_requests_total', { outcome: 'backpressure' }), 1);
  });
});

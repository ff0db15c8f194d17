/**
 * Traces, with the SDK's in-memory exporter: off, nothing is traced and job data carries no trace; on,
 * one webhook makes one trace: the request, the stripe-events job, the customer-sync job with the Stripe
 * calls under it, the projection write and the feed publish; a notice is a job span with its SMTP send.
 */
import { after, before, describe, test } from 'node:test';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createHarness, type Harness } from '../support/harness.js';
import { seedReader } from '../support/readers.js';
import { seedSubscriber, settleExpiry } from '../support/card-scenarios.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/redis.js';
import { startTracing, traceCarrier, tracingEnabled, withSpan, type TracingHandle } from '../../src/tracing.js';
import { cardExpiresAt } from '../../src/domain/card-expiry.js';

const EXPIRES = cardExpiresAt(7, 2028);

describe('traces', () => {
  let h: Harness;
  let sink: SmtpSink;
  let tracing: TracingHandle | null = null;
  const exporter = new InMemorySpanExporter();

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({ label: 'tracing', clockStart: EXPIRES - 3 * 86_400_000, cardExpiry: { smtpUrl: sink.url, noticeDays: [7] } });
  });
  after(async () => {
    await tracing?.shutdown();
    await h.close();
    await sink.close();
  });

  const spans = () => exporter.getFinishedSpans();
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
  const named = (name: string, within: readonly ReadableSpan[] = spans()) => within.filter((s) => s.name === name);

  test('off: no tracer is asked, nothing is carried in job data', async () => {
    assert.equal(tracingEnabled(), false);
    assert.equal(traceCarrier(), undefined);
    assert.equal(await withSpan('nothing', {}, async () => 42), 42);
    const { subscription } = seedReader(h.stripe, { nowSeconds: Math.floor(h.clock.now() / 1000) });
    const event = h.stripe.makeEvent('customer.subscription.created', subscription);
    assert.equal((await h.deliver(event)).status, 200);
    const job = await h.queues.stripeEvents.getJob(event.id);
    assert.ok(job);
    assert.equal('trace' in (job.data as object), false);
    await h.settle();
    assert.equal(spans().length, 0);
  });

  test('on: webhook -> stripe-events job -> customer-sync job (Stripe calls) -> write -> feed publish, one trace', async () => {
    tracing = await startTracing({ serviceName: 'subgate-test', exporter });
    assert.ok(tracing);
    assert.equal(tracingEnabled(), true);
    const { customer, subscription } = seedReader(h.stripe, { nowSeconds: Math.floor(h.clock.now() / 1000) });
    const event = h.stripe.makeEvent('customer.subscription.created', subscription);
    assert.equal((await h.deliver(event)).status, 200);
    const job = await h.queues.stripeEvents.getJob(event.id);
    assert.match(String((job?.data as { trace?: { traceparent?: string } }).trace?.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await h.settle();

    const root = await waitFor(() => named('POST /webhooks/stripe').find((s) => s.attributes['stripe.event.id'] === event.id), { message: 'the request span' });
    const traceId = root!.spanContext().traceId;
    await waitFor(() => named('entitlement feed publishFeatures').some((s) => s.spanContext().traceId === traceId), { message: 'the publish span' });
    const inTrace = spans().filter((s) => s.spanContext().traceId === traceId);
    const one = (name: string) => {
      const found = named(name, inTrace);
      assert.equal(found.length, 1, `one ${name} span in the trace (${inTrace.map((s) => s.name).join(', ')})`);
      return found[0]!;
    };
    const eventJob = one('stripe-events job');
    const syncJob = one('customer-sync job');
    const write = one('projection write');
    const publish = one('entitlement feed publishFeatures');
    assert.equal(parentOf(root!), undefined, 'the request starts the trace');
    assert.equal(parentOf(eventJob), root!.spanContext().spanId);
    assert.equal(parentOf(syncJob), eventJob.spanContext().spanId);
    for (const call of ['stripe readCustomer']) assert.equal(parentOf(one(call)), syncJob.spanContext().spanId, `${call} is a child of the refresh`);
    assert.equal(parentOf(write), syncJob.spanContext().spanId);
    // The publish runs in the after-write hook, inside the write.
    let up = inTrace.find((s) => s.spanContext().spanId === parentOf(publish));
    while (up && up !== write) up = inTrace.find((s) => s.spanContext().spanId === parentOf(up!));
    assert.equal(up, write, 'the feed publish is under the write');
    assert.equal(eventJob.attributes['messaging.destination.name'], 'stripe-events');
    assert.ok(root!.endTime[0] > 0 && syncJob.startTime[0] >= root!.startTime[0]);
    assert.equal(customer.id, (await h.store.read(customer.id))?.customer);
  });

  test('on: a notice is a span with its SMTP send as a child', async () => {
    await seedSubscriber(h, { exp_month: 7, exp_year: 2028, last4: '4444' });
    await settleExpiry(h);
    await waitFor(() => sink.messages.some((m) => /4444/.test(m.subject)), { message: 'the expiring-card notice' });
    const send = await waitFor(() => named('smtp send')[0], { message: 'the smtp span' });
    const noticeJob = named('notices job').find((s) => s.spanContext().spanId === parentOf(send!));
    assert.ok(noticeJob, 'the SMTP send is a child of the notice job');
    assert.equal(noticeJob.attributes['messaging.destination.name'], 'notices');
    // The notice job continues the trace of the card-expiry job that queued it.
    const queuedBy = named('card-expiry job').find((s) => s.spanContext().spanId === parentOf(noticeJob));
    assert.ok(queuedBy, 'the notice continues the card-expiry job\'s trace');
  });

  test('with OTEL_EXPORTER_OTLP_ENDPOINT: spans are posted over OTLP/HTTP to <endpoint>/v1/traces', async () => {
    await tracing?.shutdown();
    tracing = null;
    assert.equal(tracingEnabled(), false, 'shutdown turns the helpers back into direct calls');
    const received: Array<{ path: string; type: string; body: string }> = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: String(req.headers['content-type']), body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    }).listen(0, '127.0.0.1');
    await once(collector, 'listening');
    try {
      const otlp = await startTracing({ endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`, serviceName: 'subgate-otlp-test' });
      assert.ok(otlp);
      await withSpan('otlp smoke', { 'subgate.test': true }, async () => undefined);
      await otlp.shutdown();
      await waitFor(() => received.length > 0, { message: 'an OTLP export' });
      assert.equal(received[0]!.path, '/v1/traces');
      assert.match(received[0]!.body, /otlp smoke/);
      assert.match(received[0]!.body, /subgate-otlp-test/);
    } finally {
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});

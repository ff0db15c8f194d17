/**
 * GET /metrics as a hostile or merely eager scraper sees it: behind METRICS_TOKEN when one is set, and
 * bounded in what it costs however many scrapes arrive (one shared round of Redis reads per interval,
 * one rendering per second).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import type { Queue } from 'bullmq';
import { buildAppOn, createHarness, type Harness } from '../support/harness.js';
import { JOB } from '../../src/queues.js';
import { assertMatchesOpenApi } from '../support/openapi.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { createMetricsRouter } from '../../src/http/metrics-route.js';
import { createErrorMiddleware } from '../../src/http/errors.js';
import { createSilentLogger } from '../../src/logger.js';

const METRICS_TOKEN = 'scraper-token-0123456789';
const START = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('GET /metrics', () => {
  let h: Harness;
  let now = START;
  const clock = { now: () => now };
  const calls = { events: 0, notices: 0, jobCounts: 0 };
  let failNextEventRead = false;
  let metrics: Metrics;

  let app: ReturnType<typeof buildAppOn>;
  const scrape = (token: string | null = METRICS_TOKEN) => {
    const req = request(app).get('/metrics');
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  };

  before(async () => {
    h = await createHarness({ label: 'metrics-scrape', workers: false, clockStart: START });
    // Counting wrappers around the real Redis reads, so the test sees every round the scrapes cause.
    const countingQueue = (queue: Queue) =>
      ({
        name: queue.name,
        getJobCounts: (...states: Parameters<Queue['getJobCounts']>) => {
          calls.jobCounts += 1;
          return queue.getJobCounts(...states);
        },
      }) as unknown as Queue;
    metrics = createMetrics({
      clock,
      queues: [countingQueue(h.queues.stripeEvents as unknown as Queue), countingQueue(h.queues.customerSync as unknown as Queue)],
      eventCounts: async () => {
        calls.events += 1;
        if (failNextEventRead) {
          failNextEventRead = false;
          throw new Error('Connection is closed.');
        }
        return h.ledger.counts();
      },
      noticeCounts: async () => {
        calls.notices += 1;
        return {};
      },
    });
    app = buildAppOn(h, { metrics, metricsToken: METRICS_TOKEN });
  });
  after(async () => {
    await h.close();
  });

  test('with METRICS_TOKEN set, no token or a wrong one is a 401 and reads nothing from Redis', async () => {
    const before = { ...calls };
    for (const res of [await scrape(null), await scrape('wrong-token-0123456789'), await scrape(`${METRICS_TOKEN}x`)]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      assertMatchesOpenApi(res, '/metrics', 'get');
    }
    assert.deepEqual(calls, before);
    const ok = await scrape();
    assert.equal(ok.status, 200);
    assertMatchesOpenApi(ok, '/metrics', 'get');
    assert.match(ok.text, /subgate_queue_jobs\{queue="stripe-events",state="waiting"\} 0/);
  });

  test('50 concurrent scrapes make one round of Redis reads, and so do scrapes within the interval', async () => {
    now += 60_000; // past whatever an earlier scrape left fresh
    const before = { ...calls };
    const results = await Promise.all(Array.from({ length: 50 }, () => scrape()));
    assert.ok(results.every((res) => res.status === 200 && res.text.includes('subgate_queue_jobs{queue="customer-sync",state="active"} 0')));
    assert.deepEqual(
      { events: calls.events - before.events, notices: calls.notices - before.notices, jobCounts: calls.jobCounts - before.jobCounts },
      { events: 1, notices: 1, jobCounts: 2 }, // one read per stats hash, one per queue
    );

    now += 4000;
    assert.equal((await scrape()).status, 200);
    assert.equal(calls.events - before.events, 1, 'a scrape within the interval reuses the figures');
    now += 1000;
    assert.equal((await scrape()).status, 200);
    assert.equal(calls.events - before.events, 2, 'after the interval the figures are read again');
  });

  test('the text is rendered at most once a second, however many scrape', async () => {
    now += 60_000;
    const first = await scrape();
    metrics.recordWebhook('customer.updated', 'accepted');
    const within = await Promise.all(Array.from({ length: 20 }, () => scrape()));
    assert.ok(within.every((res) => res.text === first.text), 'within the second every scrape gets the same rendering');
    now += 1000;
    const next = await scrape();
    assert.match(next.text, /subgate_webhooks_total\{type="customer.updated",outcome="accepted"\} 1/);
  });

  test('the figures are current after the interval: a job enqueued shows up', async () => {
    // No workers run here: a delayed job just sits in the queue for the scrape to count.
    await h.queues.stripeEvents.add(JOB.stripeEvent, { event: { id: 'evt_metrics_probe', type: 'customer.updated' } as never, receivedAt: START }, { jobId: 'metrics-probe', delay: 60_000 });
    now += 5000;
    const res = await scrape();
    assert.match(res.text, /subgate_queue_jobs\{queue="stripe-events",state="delayed"\} 1/);
  });

  test('a failed round is not kept: the next scrape reads again', async () => {
    now += 5000;
    failNextEventRead = true;
    const failed = await scrape();
    assert.equal(failed.status, 503);
    const before = calls.events;
    const next = await scrape();
    assert.equal(next.status, 200);
    assert.equal(calls.events, before + 1);
  });

  test('without METRICS_TOKEN /metrics stays open, as Prometheus setups expect', async () => {
    const open = express().use(createMetricsRouter(createMetrics({ clock })), createErrorMiddleware(createSilentLogger()));
    const res = await request(open).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /text\/plain/);
  });
});

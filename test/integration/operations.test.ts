import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createOpsHarness, ADMIN_TOKEN, type OpsHarness } from '../support/ops-harness.js';
import { seedReader } from '../support/readers.js';
import { seedMany } from '../support/resync.js';
import { waitFor } from '../support/redis.js';
import { assertMatchesOpenApi } from '../support/openapi.js';
import { API_TOKEN } from '../support/harness.js';
import { CURRENT_API_VERSION, LEGACY_API_VERSION } from '../fixtures/stripe-objects.js';
import { EVENT_RECOVERY_SCHEDULER_ID, OPS_JOB, upsertEventRecovery } from '../../src/queues.js';
import request from 'supertest';
import { gzipSync } from 'node:zlib';
import { captureLogs } from '../support/log-capture.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('admin routes', () => {
  let o: OpsHarness;
  const logs = captureLogs();
  before(async () => {
    o = await createOpsHarness({ label: 'admin', clockStart: START, logger: logs.logger });
  });
  after(async () => {
    await o.close();
  });

  for (const [method, path] of [
    ['get', '/admin/customers/cus_x'],
    ['post', '/admin/resync'],
    ['get', '/admin/resync/1'],
    ['post', '/admin/recover-events'],
    ['get', '/admin/queues'],
    ['get', '/admin/queues/api/queues'],
  ] as const) {
    test(`${method.toUpperCase()} ${path} refuses a missing or wrong token with 401`, async () => {
      const missing = await o.admin(method, path, null);
      const wrong = await o.admin(method, path, `${ADMIN_TOKEN}-not`);
      const entitlementToken = await o.admin(method, path, API_TOKEN);
      for (const res of [missing, wrong, entitlementToken]) {
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'unauthorized');
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    });
  }

  test('malformed, unknown and oversized admin input gets a clear 4xx and starts nothing', async () => {
    const malformedId = await o.admin('get', '/admin/customers/acct_123');
    assert.equal(malformedId.status, 400);
    assert.equal(malformedId.body.error.code, 'invalid_customer');
    const unknown = await o.admin('get', '/admin/customers/cus_nobody_here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    assert.equal((await o.admin('get', '/admin/resync/no-such-job')).status, 404);

    // Every state, so a job a worker already finished still counts.
    const allJobs = async () => Object.values(await o.opsQueues.resync.getJobCounts()).reduce((a, b) => a + b, 0);
    const jobsBefore = await allJobs();
    const badJson = await o.admin('post', '/admin/resync').set('Content-Type', 'application/json').send('{"fresh": tru');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.code, 'malformed_body');
    const oversized = await o.admin('post', '/admin/resync').set('Content-Type', 'application/json').send(JSON.stringify({ fresh: false, pad: 'x'.repeat(2048) }));
    assert.equal(oversized.status, 413);
    assert.equal(oversized.body.error.code, 'payload_too_large');
    assert.match(oversized.body.error.message, /1 KB/);
    assert.equal(await allJobs(), jobsBefore, 'no resync was queued');
  });

  test('a path that is not valid percent-encoding is a 400 invalid_path, with no stack in the log', async () => {
    logs.lines.length = 0;
    for (const path of ['/admin/customers/%E0%A4%A', '/admin/customers/%', '/admin/resync/%E0%A4%A']) {
      const res = await o.admin('get', path);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, 'invalid_path');
      assert.doesNotMatch(res.body.error.message, /%E0|%$/, 'the message does not echo the path');
      assertMatchesOpenApi(res, path.startsWith('/admin/customers/') ? '/admin/customers/{id}' : '/admin/resync/{jobId}', 'get');
    }
    assert.equal((await o.admin('get', '/admin/customers/%E0%A4%A', null)).status, 401, 'the token is checked first');
    const logged = logs.lines.join('');
    assert.doesNotMatch(logged, /"stack"|unhandled error|URIError/);
    assert.match(logged, /"status":400/, 'the access log line says 400');
  });

  test('a body the parser cannot read is a 4xx, never a 500: bad gzip 400, unknown encoding 415', async () => {
    const resync = () => o.admin('post', '/admin/resync').set('Content-Type', 'application/json').serialize((raw: unknown) => raw as string);
    const notGzip = await resync().set('Content-Encoding', 'gzip').send(Buffer.from('{"fresh":false}'));
    assert.equal(notGzip.status, 400);
    assert.equal(notGzip.body.error.code, 'malformed_body');
    const truncated = await resync().set('Content-Encoding', 'gzip').send(gzipSync(Buffer.from('{"fresh":false}')).subarray(0, 12));
    assert.equal(truncated.status, 400);
    assert.equal(truncated.body.error.code, 'malformed_body');
    const unknown = await resync().set('Content-Encoding', 'compress').send(Buffer.from('{"fresh":false}'));
    assert.equal(unknown.status, 415);
    assert.equal(unknown.body.error.code, 'unsupported_encoding');
    const badCharset = await resync().set('Content-Type', 'application/json; charset=klingon').send(Buffer.from('{"fresh":false}'));
    assert.equal(badCharset.status, 415);
    assert.equal(badCharset.body.error.code, 'unsupported_charset');
    assert.doesNotMatch(logs.lines.join(''), /unhandled error/);
  });

  test('Bull Board answers behind the token', async () => {
    const page = await o.admin('get', '/admin/queues');
    assert.equal(page.status, 200);
    assert.match(page.text, /<html/i);
    const api = await o.admin('get', '/admin/queues/api/queues');
    assert.equal(api.status, 200);
    const names = (api.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
    assert.deepEqual(names, ['card-expiry', 'customer-sync', 'event-recovery', 'notices', 'resync', 'stripe-events']);
  });

  test('POST /admin/resync runs the resync as a job with progress, and the customer view shows the result', async () => {
    const { customer } = seedReader(o.h.stripe, { userId: 'reader-admin', nowSeconds: Math.floor(START / 1000) });
    customer.email = 'reader@example.com';
    o.h.stripe.putCustomer(customer);
    seedMany(o.h, 150, { nowSeconds: Math.floor(START / 1000) });

    const started = await o.admin('post', '/admin/resync').send({ fresh: true });
    assert.equal(started.status, 202);
    assertMatchesOpenApi(started, '/admin/resync', 'post');
    const jobId = started.body.job_id as string;
    const done = (await waitFor(
      async () => {
        const res = await o.admin('get', `/admin/resync/${jobId}`);
        return res.body.state === 'completed' || res.body.state === 'failed' ? res : null;
      },
      { timeoutMs: 15_000, message: 'the resync job to finish' },
    ))!;
    assertMatchesOpenApi(done, '/admin/resync/{jobId}', 'get');
    assert.equal(done.body.state, 'completed', done.body.failed_reason);
    assert.equal(done.body.result.customers, 151);
    assert.equal(done.body.result.written, 151);
    assert.equal(done.body.progress.phase, 'done');

    const view = await o.admin('get', `/admin/customers/${customer.id}`);
    assert.equal(view.status, 200);
    assertMatchesOpenApi(view, '/admin/customers/{id}', 'get');
    assert.equal(view.body.entitlement.status, 'active');
    assert.equal(view.body.projection.user, 'reader-admin');
    assert.equal(view.body.projection.email, 'r***@example.com', 'the e-mail address is masked');

    const unknown = await o.admin('get', '/admin/customers/cus_nobody');
    assert.equal(unknown.status, 404);
    assertMatchesOpenApi(unknown, '/admin/customers/{id}', 'get');
  });

  test('the customer view lists the refreshes a webhook caused', async () => {
    const { customer, subscription } = seedReader(o.h.stripe, { nowSeconds: Math.floor(START / 1000) });
    const event = o.h.stripe.makeEvent('customer.subscription.updated', o.h.stripe.getSubscription(subscription.id)!);
    assert.equal((await o.deliver(event)).status, 200);
    await o.h.settle();
    const view = await o.admin('get', `/admin/customers/${customer.id}`);
    assert.equal(view.status, 200);
    assert.deepEqual(
      view.body.refreshes.map((j: { event_id?: string; state: string }) => [j.event_id, j.state]),
      [[event.id, 'completed']],
    );
  });
});

test('without ADMIN_TOKEN every admin path is a 404', async () => {
  const o = await createOpsHarness({ label: 'admin-off', clockStart: START, adminToken: null, workers: false, opsWorkers: false });
  try {
    for (const [method, path] of [['get', '/admin/customers/cus_x'], ['post', '/admin/resync'], ['get', '/admin/queues']] as const) {
      const res = await o.admin(method, path, ADMIN_TOKEN);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'not_found');
    }
  } finally {
    await o.close();
  }
});

describe('missed-event recovery', () => {
  let o: OpsHarness;
  before(async () => {
    o = await createOpsHarness({ label: 'recovery', clockStart: START });
  });
  after(async () => {
    await o.close();
  });

  test('enqueues only the events the webhook never delivered, then nothing on the next run', async () => {
    const sec = Math.floor(o.h.clock.now() / 1000);
    const delivered = seedReader(o.h.stripe, { nowSeconds: sec });
    const missed = seedReader(o.h.stripe, { nowSeconds: sec });
    const seenEvent = o.h.stripe.makeEvent('customer.subscription.created', delivered.subscription, { created: sec - 60 });
    const missedEvent = o.h.stripe.makeEvent('customer.subscription.created', missed.subscription, { created: sec - 30 });
    assert.equal((await o.deliver(seenEvent)).status, 200);
    await o.h.settle();
    assert.equal((await o.h.entitlement({ customer: missed.customer.id })).body.status, 'none');

    const first = await o.operations.recoverEvents();

    assert.deepEqual([first.listed, first.recovered, first.already_seen, first.recovered_ids], [2, 1, 1, [missedEvent.id]]);
    const job = await o.h.queues.stripeEvents.getJob(missedEvent.id);
    assert.ok(job, 'the missed event was enqueued under its id, as the webhook would');
    await o.h.settle();
    assert.equal((await o.h.entitlement({ customer: missed.customer.id })).body.status, 'active');
    assert.equal((await o.deliver(missedEvent)).body.duplicate, true, 'a late webhook of it is a duplicate');

    o.h.clock.advance(60_000);
    const second = await o.operations.recoverEvents();
    assert.deepEqual([second.recovered, second.already_seen], [0, 2]);
    assert.equal(second.since, sec - 30 - 300, 'lists from the newest event seen, less the overlap');
  });

  test('runs as a scheduled job on the event-recovery queue', async () => {
    await upsertEventRecovery(o.opsQueues.eventRecovery, 3_600_000);
    const scheduler = await o.opsQueues.eventRecovery.getJobScheduler(EVENT_RECOVERY_SCHEDULER_ID);
    assert.equal(scheduler?.every, 3_600_000);
    const event = o.h.stripe.makeEvent('customer.updated', o.h.stripe.putCustomer(seedReader(o.h.stripe, { nowSeconds: Math.floor(o.h.clock.now() / 1000) }).customer));

    const res = await o.admin('post', '/admin/recover-events');
    assert.equal(res.status, 202);
    assertMatchesOpenApi(res, '/admin/recover-events', 'post');
    const job = await o.opsQueues.eventRecovery.getJob(res.body.job_id);
    assert.equal(job?.name, OPS_JOB.recoverEvents);
    await waitFor(async () => (await o.opsQueues.eventRecovery.getJob(res.body.job_id))?.returnvalue, {
      timeoutMs: 10_000,
      message: 'the recovery job to finish',
    });
    // The scheduler's own first run may have got to it first: exactly one of the runs recovered it.
    await waitFor(async () => (await o.opsQueues.eventRecovery.getJobCounts('active', 'waiting', 'delayed')).active === 0, { message: 'recovery runs to finish' });
    const runs = (await o.opsQueues.eventRecovery.getJobs(['completed'])).map((j) => (j.returnvalue as { recovered_ids?: string[] } | null)?.recovered_ids ?? []);
    assert.equal(runs.filter((ids) => ids.includes(event.id)).length, 1, 'one run recovered the missed event');
    assert.ok(await o.h.queues.stripeEvents.getJob(event.id), 'the missed event is in the stripe-events queue under its id');
    assert.ok(await o.h.ledger.has(event.id));
  });
});

describe('metrics', () => {
  let o: OpsHarness;
  before(async () => {
    o = await createOpsHarness({ label: 'metrics', clockStart: START, opsWorkers: false });
  });
  after(async () => {
    await o.close();
  });

  const scrape = async () => {
    const res = await request(o.app).get('/metrics');
    assert.equal(res.status, 200);
    assertMatchesOpenApi(res, '/metrics', 'get');
    return res.text;
  };
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };

  test('move when events flow and entitlements are asked', async () => {
    const before = await scrape();
    const { customer, subscription } = seedReader(o.h.stripe, { nowSeconds: Math.floor(START / 1000) });
    const event = o.h.stripe.makeEvent('customer.subscription.created', subscription);
    assert.equal((await o.deliver(event)).status, 200);
    assert.equal((await o.deliver(event)).body.duplicate, true);
    assert.equal((await request(o.app).post('/webhooks/stripe').set('Stripe-Signature', 't=1,v1=bad').send('{}')).status, 400);
    await o.h.settle();
    const answer = await request(o.app).get('/v1/entitlements').query({ customer: customer.id }).set('Authorization', `Bearer ${API_TOKEN}`);
    assert.equal(answer.body.status, 'active');
    await request(o.app).get('/v1/entitlements').query({ customer: 'cus_unknown' }).set('Authorization', `Bearer ${API_TOKEN}`);

    const after = (await waitFor(
      async () => {
        const text = await scrape();
        return value(text, 'subgate_job_duration_seconds_count{queue="customer-sync",name="sync-customer",outcome="completed"}') >= 1 ? text : null;
      },
      { message: 'the sync job to be timed' },
    ))!;
    const delta = (series: string) => value(after, series) - value(before, series);
    assert.equal(delta('subgate_webhooks_total{type="customer.subscription.created",outcome="accepted"}'), 1);
    assert.equal(delta('subgate_webhooks_total{type="customer.subscription.created",outcome="duplicate"}'), 1);
    assert.equal(delta('subgate_webhooks_total{type="unknown",outcome="rejected"}'), 1);
    assert.equal(delta('subgate_entitlement_answers_total{token="token-1",status="active"}'), 1);
    assert.equal(delta('subgate_entitlement_answers_total{token="token-1",status="none"}'), 1);
    assert.equal(delta('subgate_events_total{type="customer.subscription.created",outcome="applied"}'), 1);
    assert.equal(delta('subgate_event_lag_seconds_count{stage="routed"}'), 1);
    assert.equal(delta('subgate_job_duration_seconds_count{queue="stripe-events",name="stripe-event",outcome="completed"}'), 1);
    assert.match(after, /subgate_queue_jobs\{queue="stripe-events",state="completed"\} [1-9]/);
    await waitFor(async () => value(await scrape(), 'subgate_event_lag_seconds_count{stage="applied"}') >= 1, { message: 'the applied lag' });
  });

  test('count accepted events by the API version Stripe rendered them in', async () => {
    const before = await scrape();
    const { subscription } = seedReader(o.h.stripe, { nowSeconds: Math.floor(START / 1000) });
    const current = o.h.stripe.makeEvent('customer.subscription.updated', subscription);
    assert.equal((await o.deliver(current)).status, 200);
    assert.equal((await o.deliver(current)).body.duplicate, true);
    for (let i = 0; i < 2; i++) {
      assert.equal((await o.deliver(o.h.stripe.makeEvent('customer.subscription.updated', subscription, { api_version: LEGACY_API_VERSION }))).status, 200);
    }
    const after = await scrape();
    const delta = (series: string) => value(after, series) - value(before, series);
    assert.equal(delta(`subgate_webhook_api_versions_total{api_version="${CURRENT_API_VERSION}"}`), 1, 'a duplicate is not counted again');
    assert.equal(delta(`subgate_webhook_api_versions_total{api_version="${LEGACY_API_VERSION}"}`), 2);
    await o.h.settle();
  });
});

test('a recovery job waits for its worker and completes once it runs', async () => {
  const o = await createOpsHarness({ label: 'recovery-worker', clockStart: START, opsWorkers: true });
  try {
    const job = await o.opsQueues.eventRecovery.add(OPS_JOB.recoverEvents, { requestedBy: 'test' });
    const [completed] = (await once(o.opsWorkers!.recoveryWorker, 'completed')) as [{ id?: string }];
    assert.equal(completed.id, job.id);
  } finally {
    await o.close();
  }
});

/**
 * A primary demoted under a running subgate, without Sentinel: the managed-Redis case where the DNS name
 * now points at a node that is a read-only replica, then at a writable primary again. Writes are answered
 * READONLY meanwhile. The processes must neither spin nor flood their logs, must answer webhooks 503
 * (Stripe retries), and must carry on by themselves once the node takes writes again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHarness, type Harness } from '../support/harness.js';
import { createTestRedis, hasRedisServerBinary, startDisposableRedis, waitFor, type DisposableRedis } from '../support/redis.js';
import { capturingLogger } from '../support/log-capture.js';
import { seedSubscriber } from '../support/card-scenarios.js';

const skip = hasRedisServerBinary() ? false : 'needs a redis-server binary';

describe('a primary demoted to a read-only replica under running workers', { skip, timeout: 90_000 }, () => {
  let primary: DisposableRedis;
  let other: DisposableRedis;
  let h: Harness;
  const { logger, lines } = capturingLogger('info');

  before(async () => {
    primary = await startDisposableRedis();
    other = await startDisposableRedis();
    h = await createHarness({ label: 'readonly', redisUrl: primary.url, logger });
  });
  after(async () => {
    // A BullMQ worker whose blocking read was refused READONLY sometimes does not finish close() (its
    // main loop waits on that read): bounded here so the file ends, the connections cut by force.
    const closed = await Promise.race([h?.close().then(() => true), sleep(15_000).then(() => false)]);
    if (!closed) {
      console.error('# harness close did not finish within 15 s after the READONLY spell; connections cut');
      // Whatever the stuck close() still holds would keep this file's process alive for ever; the results
      // are reported once this hook returns, so let the process go then. An unref'd timer fires only if
      // something else is still keeping the process up.
      setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
      h.apiRedis.disconnect();
      h.workerRedis.disconnect();
      // The workers' own connections (BullMQ keeps one per worker for its blocking reads); their
      // disconnect can itself wait on the stuck client, so it is given a moment, not awaited to the end.
      const workers = h.workers ? [h.workers.eventWorker, h.workers.syncWorker, h.workers.expiryWorker, h.workers.noticeWorker] : [];
      await Promise.race([Promise.allSettled(workers.map((worker) => worker.disconnect())), sleep(1000)]);
    }
    await Promise.allSettled([primary.stop(), other.stop()]);
  });

  test('READONLY gives 503s and a handful of log lines, not a storm; the same connections recover once the node is writable', async () => {
    const subscriber = await seedSubscriber(h, { exp_month: 12, exp_year: 2031, user: 'reader-ro' });
    const ok = await h.deliver(h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(subscriber.customerId)!));
    assert.equal(ok.status, 200);
    await h.settle();

    // The failover: `other` takes over the data, `primary` becomes its replica (same data, read-only).
    const admin = createTestRedis({ url: primary.url });
    const otherAdmin = createTestRedis({ url: other.url });
    try {
      await otherAdmin.replicaof('127.0.0.1', String(primary.port));
      await waitFor(async () => /master_link_status:up/.test(await otherAdmin.info('replication')), { timeoutMs: 15_000, message: 'the other node in sync' });
      await otherAdmin.replicaof('NO', 'ONE');
      await admin.replicaof('127.0.0.1', String(other.port));
      await waitFor(async () => /master_link_status:up/.test(await admin.info('replication')), { timeoutMs: 15_000, message: 'the demoted node in sync' });

      const before = lines.length;
      const refused = await h.deliver(h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(subscriber.customerId)!));
      assert.equal(refused.status, 503, 'a webhook the node cannot record is refused, for Stripe to retry');
      // Workers keep asking for jobs and checking for stalled ones all along; that is where a storm came from.
      await sleep(4000);
      const during = lines.slice(before);
      const storm = during.filter((line) => /READONLY/.test(line));
      assert.ok(storm.length <= 20, `log lines naming READONLY in 4 s: ${storm.length} (a spinning retry logs hundreds)`);

      // The node takes writes again (the DNS name points at a primary): no restart.
      await admin.replicaof('NO', 'ONE');
      const event = h.stripe.makeEvent('customer.updated', h.stripe.getCustomer(subscriber.customerId)!);
      const accepted = await waitFor(async () => ((await h.deliver(event)).status === 200 ? true : false), { timeoutMs: 20_000, intervalMs: 250, message: 'a webhook accepted again' });
      assert.ok(accepted);
      await waitFor(async () => (await h.queues.stripeEvents.getJobState(event.id)) === 'completed', { timeoutMs: 30_000, intervalMs: 100, message: 'the event applied by the same workers' });
    } finally {
      admin.disconnect();
      otherAdmin.disconnect();
    }
  });
});

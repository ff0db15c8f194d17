/**
 * A Sentinel failover under a webhook flood, with real processes: a primary + 2 replicas + 3 sentinels, an API
 * and a worker process on REDIS_SENTINELS, the primary killed -9 mid-flood. The processes find the promoted
 * replica by themselves (no restart) and the flood is acknowledged to the end. With REDIS_ACK_REPLICAS=1 no
 * event acknowledged before the kill is lost; with 0, the ones lost (acknowledged by the primary, never
 * replicated) are counted and reported. Two replicas: with one, REDIS_ACK_REPLICAS=1 can no longer be met once
 * it is promoted (every webhook would rightly get 503 until another replica joins).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { floodUntilAcked, notDurable, startFaultStack, waitUntilCurrent, type FaultStack } from '../support/fault-stack.js';
import { recordFigures } from '../support/fault-report.js';
import { waitFor } from '../support/redis.js';

async function failoverMidFlood(stack: FaultStack, ackReplicas: number) {
  const s = stack;
  const dbg = (m: string) => process.env.DEBUG_FAILOVER && console.error(`# ${m} ${Math.round(performance.now())}`);
  dbg('start');
  const api = await s.start('api', 'api', { REDIS_ACK_REPLICAS: String(ackReplicas) });
  const worker = await s.start('worker', 'worker', { REDIS_ACK_REPLICAS: String(ackReplicas) });
  dbg('processes up');
  const { customers, events, flood } = await floodUntilAcked(s, () => api.url, { acked: 300 });
  const group = s.sentinels!;
  const oldPrimary = group.primary.port;

  dbg('acked 300');
  const killedAt = performance.now();
  await s.redis.crash();
  const ackedAtKill = new Set(flood.ackedIds());
  await waitFor(async () => (await group.currentPrimaryPort()) !== oldPrimary, { timeoutMs: 30_000, intervalMs: 100, message: 'the sentinels promote the replica' });
  const promotedMs = performance.now() - killedAt;
  dbg('promoted');
  const timer = setInterval(() => dbg(`acked ${flood.ackedIds().length} of ${events.length}`), 5000);

  await flood.done;
  clearInterval(timer);
  await flood.stop();
  dbg('all acked');
  const allAckedMs = performance.now() - killedAt;
  await waitUntilCurrent(s, customers, killedAt);
  const lost = await notDurable(s, events.filter((e) => ackedAtKill.has(e.id)));
  assert.ok(api.running && worker.running, 'the same processes carried on on the promoted replica');
  return { events: events.length, ackedAtKill: ackedAtKill.size, lost: lost.length, promotedMs, allAckedMs, api, worker };
}

describe('Sentinel failover mid-flood', { timeout: 240_000 }, () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  test('REDIS_ACK_REPLICAS=1: the primary killed -9 mid-flood loses no acknowledged event; processes follow the promotion', async () => {
    stack = await startFaultStack({ label: 'failover-ack1', topology: 'sentinel' });
    const r = await failoverMidFlood(stack, 1);
    assert.equal(r.lost, 0, `acknowledged before the kill and lost: ${r.lost} of ${r.ackedAtKill}`);
    const storm = [...r.api.logs, ...r.worker.logs].filter((line) => /READONLY|connection error|worker error/.test(line.text)).length;
    recordFigures({
      scenario: 'Sentinel failover (primary kill -9) mid-flood, REDIS_ACK_REPLICAS=1',
      events: r.events,
      kills: 1,
      lost: r.lost,
      timings: { 'replica promoted': r.promotedMs, 'flood acknowledged': r.allAckedMs },
      notes: { 'acked at kill': r.ackedAtKill, 'error log lines': storm },
    });
  });

  test('REDIS_ACK_REPLICAS=0: the same failover, the acknowledged events it lost counted', async () => {
    stack = await startFaultStack({ label: 'failover-ack0', topology: 'sentinel' });
    const r = await failoverMidFlood(stack, 0);
    console.log(`# REDIS_ACK_REPLICAS=0: ${r.lost} of ${r.ackedAtKill} events acknowledged before the kill were lost`);
    recordFigures({
      scenario: 'Sentinel failover (primary kill -9) mid-flood, REDIS_ACK_REPLICAS=0',
      events: r.events,
      kills: 1,
      lost: r.lost,
      timings: { 'replica promoted': r.promotedMs, 'flood acknowledged': r.allAckedMs },
      notes: { 'acked at kill': r.ackedAtKill, 'lost (reported, not a failure)': r.lost },
    });
  });
});

/**
 * `npm run demo`: subgate (app + workers), the Stripe test double and the example site on 127.0.0.1,
 * then the story played with signed webhooks, printing the URLs to open at each step. Redis: a throwaway
 * redis-server when the binary is installed, else REDIS_URL (keys go under a unique prefix, deleted at
 * the end). No Stripe account needed. Ctrl-C stops everything; `--once` exits after the story.
 *
 * Env: DEMO_STEP_MS (pause between steps, default 8000), REDIS_URL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { hasRedisServerBinary, startDisposableRedis, type DisposableRedis } from '../../test/support/redis.js';
import { DEMO_ADMIN_TOKEN, DEMO_READERS, startContentGateStack } from './stack.js';
import { FUNNEL_STEPS } from '../../src/store/recovery-funnel.js';

const stepMs = Number(process.env.DEMO_STEP_MS ?? 8000);
const once = process.argv.includes('--once');

let redis: DisposableRedis | null = null;
let redisUrl = process.env.REDIS_URL;
if (hasRedisServerBinary()) {
  redis = await startDisposableRedis();
  redisUrl = redis.url;
} else if (!redisUrl) {
  console.error('The demo needs Redis: install redis-server (it starts a throwaway one), or set REDIS_URL=redis://host:port.');
  process.exit(1);
}

const stack = await startContentGateStack({ redisUrl });
const startedAt = stack.h.clock.now();
const say = (text: string) => console.log(`\n${text}`);
const article = `${stack.siteUrl}/articles/harbour-lights`;

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stack.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
  }
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

try {
  say(`subgate           ${stack.subgateUrl}   (GET /v1/entitlements, /v1/entitlements/events, /openapi.json)`);
  say(`Stripe double     ${stack.h.stripe.url}`);
  say(`Example site      ${stack.siteUrl}`);
  say(`Redis             ${redisUrl}${redis ? ' (throwaway)' : ''}`);
  say(`Readers: ${DEMO_READERS.map((r) => `${r.name} (${r.id}): ${r.blurb}`).join(' | ')}`);
  say(`1. Open ${article} : anonymous readers are asked to log in. Sign in as Ada: she is asked to subscribe.`);
  await sleep(stepMs);

  const sub = await stack.subscribe('reader-ada');
  say(`2. Ada subscribed (signed webhook customer.subscription.created, customer ${sub.customerId}). Reload: she reads the whole story.`);
  await sleep(stepMs);

  await stack.expireCard(sub);
  const denied = await stack.client.checkUser('reader-ada');
  say(`3. Her card expired (the expiry job fired; signed webhook charge.failed, expired_card). subgate says: ${denied.status}.`);
  say(`   Reload ${article} : "Make sure your card on file is up to date", with an Update your card button.`);
  if (denied.update_card_url) say(`   The button goes to ${denied.update_card_url}`);
  say(`   (it opens the Stripe double's portal page; its "Return" link comes back through subgate to the site)`);
  await sleep(stepMs * 2);

  if (once && denied.update_card_url) {
    // Unattended: Ada clicks the button a day later, saves a new card in the portal and comes back.
    stack.h.clock.advance(86_400_000);
    const toPortal = await fetch(denied.update_card_url, { redirect: 'manual' });
    const portalPage = await fetch(toPortal.headers.get('location')!).then((r) => r.text());
    const back = /href="([^"]+)" data-return/.exec(portalPage)![1]!.replace(/&#38;/g, '&');
    await stack.replaceCard(sub, { webhook: false });
    await fetch(back, { redirect: 'manual' });
    say('   (unattended run: a day later Ada followed the link, saved a new card in the portal and came back)');
  } else {
    await stack.replaceCard(sub, { webhook: true });
  }
  await stack.waitForStatus('reader-ada', 'active');
  say(`4. She saved a new card (${once ? 'through the portal; the return re-read Stripe at once' : 'signed webhook customer.updated'}). Reload ${article} : she reads again.`);
  say(`   The site's client caches answers for 10 minutes; the change reached it on /v1/entitlements/events.`);
  say(`   Client stats: ${JSON.stringify(stack.client.stats())}`);
  // The story's steps are recorded as jobs finish; give the last ones a moment.
  await sleep(1000);
  const days = [...new Set([startedAt, stack.h.clock.now() - 86_400_000 * (once ? 1 : 0)].map((at) => new Date(at).toISOString().slice(0, 10)))];
  const figures = (await stack.h.api.funnel.read(days)).filter((f) => f.counts.detected > 0);
  say(`5. The recovery funnel (by the day each problem was detected: ${days.join(', ')}):`);
  for (const f of figures) {
    const steps = FUNNEL_STEPS.map((step) => `${step} ${f.counts[step]}`).join(' -> ');
    const median = f.medianRestoreMs === null ? 'none restored' : `median time to restore ${(f.medianRestoreMs / 3_600_000).toFixed(1)} h`;
    say(`   ${f.day} ${f.problem}: ${steps}; ${median}`);
  }
  say(`   Operator's view: ${stack.subgateUrl}/admin (log in with ${DEMO_ADMIN_TOKEN}): search "reader-ada", /admin/recovery.`);
  if (once) await stop(0);
  say('Everything keeps running; Ctrl-C to stop.');
} catch (err) {
  console.error(`demo failed: ${(err as Error).stack ?? String(err)}`);
  await stop(1);
}

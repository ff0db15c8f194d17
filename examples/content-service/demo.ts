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
import { DEMO_READERS, startContentGateStack } from './stack.js';

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

  await stack.replaceCard(sub, { webhook: true });
  await stack.waitForStatus('reader-ada', 'active');
  say(`4. She saved a new card (signed webhook customer.updated). Reload ${article} : she reads again.`);
  say(`   The site's client caches answers for 10 minutes; the change reached it on /v1/entitlements/events.`);
  say(`   Client stats: ${JSON.stringify(stack.client.stats())}`);
  if (once) await stop(0);
  say('Everything keeps running; Ctrl-C to stop.');
} catch (err) {
  console.error(`demo failed: ${(err as Error).stack ?? String(err)}`);
  await stop(1);
}

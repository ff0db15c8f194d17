/** B4: the naive webhook route: express.raw + Stripe's constructEvent + queue.add with the event id as jobId. */
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import Stripe from 'stripe';
import { requireEnv, serve } from '../lib/child.js';

const secret = requireEnv('BENCH_WEBHOOK_SECRET');
const redis = new Redis(requireEnv('BENCH_REDIS_URL'), { maxRetriesPerRequest: null });
const queue = new Queue('stripe-events', { connection: redis, prefix: requireEnv('BENCH_PREFIX') });

const app = express();
app.post('/webhooks/stripe', express.raw({ type: 'application/json' }), async (req, res) => {
  let event: Stripe.Event;
  try {
    event = Stripe.webhooks.constructEvent(req.body as Buffer, req.get('stripe-signature') ?? '', secret);
  } catch {
    res.status(400).json({ error: 'invalid signature' });
    return;
  }
  await queue.add('stripe-event', event, { jobId: event.id });
  res.json({ received: true });
});
await serve(createServer(app), {}, async () => {
  await queue.close();
  await redis.quit();
});

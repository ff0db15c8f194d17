/** B2: bare Express 5 plus one ioredis HGETALL of a 10-field hash (default ioredis options). */
import { createServer } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { requireEnv, serve } from '../lib/child.js';
import { BASELINE_HASHES, baselineHashKey } from '../lib/baseline-data.js';

const redis = new Redis(requireEnv('BENCH_REDIS_URL'));
const app = express();
app.get('/v1/entitlements', async (_req, res) => {
  res.json(await redis.hgetall(baselineHashKey(Math.floor(Math.random() * BASELINE_HASHES))));
});
await serve(createServer(app), {}, () => redis.quit());

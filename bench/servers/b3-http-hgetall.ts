/** B3: raw node:http plus one HGETALL with ioredis auto-pipelining: the floor of this stack. */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { requireEnv, serve } from '../lib/child.js';
import { BASELINE_HASHES, baselineHashKey } from '../lib/baseline-data.js';

const redis = new Redis(requireEnv('BENCH_REDIS_URL'), { enableAutoPipelining: true });
const server = createServer((_req, res) => {
  redis.hgetall(baselineHashKey(Math.floor(Math.random() * BASELINE_HASHES))).then(
    (hash) => {
      const body = JSON.stringify(hash);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    () => {
      res.writeHead(503).end();
    },
  );
});
await serve(server, {}, () => redis.quit());

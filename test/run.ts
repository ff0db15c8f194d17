// Test runner behind `npm test`.
//
//   tsx test/run.ts                      all test/unit/**/*.test.ts and test/integration/**/*.test.ts
//   tsx test/run.ts path/to/x.test.ts    only the given files
//
// Files run one at a time (--test-concurrency=1); note that node --test orders them by path.
//
// Redis: if a redis-server binary is available ($REDIS_SERVER_BIN or PATH) a throwaway one is
// started on a free port and passed to the tests as TEST_REDIS_URL; otherwise TEST_REDIS_URL
// must already be set. The throwaway server is stopped on every way out.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DisposableRedis, redisServerBinary, startDisposableRedis } from './support/redis.js';

function findTests(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? findTests(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
}

let redis: DisposableRedis | undefined;
let child: ChildProcess | undefined;
let interrupted: number | undefined; // exit code after SIGINT (130) / SIGTERM (143)

async function finish(code: number): Promise<never> {
  await redis?.stop().catch(() => {}); // the support module's exit/signal hooks are the last resort
  process.exit(interrupted ?? code);
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    interrupted ??= code;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal); // its exit handler calls finish()
    else void finish(code);
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const root = fileURLToPath(new URL('..', import.meta.url)); // tests run from the repo root
  const files =
    args.length > 0
      ? args.map((file) => resolve(file))
      : [...findTests(join(root, 'test', 'unit')), ...findTests(join(root, 'test', 'integration'))];
  if (files.length === 0) throw new Error('no test files found under test/unit or test/integration');

  const env = { ...process.env };
  const bin = redisServerBinary();
  if (bin) {
    redis = await startDisposableRedis();
    env.TEST_REDIS_URL = redis.url;
    env.REDIS_SERVER_BIN = bin;
  } else if (!env.TEST_REDIS_URL) {
    throw new Error(
      'Tests need Redis. Install redis-server (e.g. `apt-get install redis-server`, or set REDIS_SERVER_BIN) ' +
        'so the runner can start a throwaway instance, or set TEST_REDIS_URL=redis://host:port ' +
        '(tests only touch keys under their own unique prefix).',
    );
  }
  console.error(`# redis: ${redis ? `throwaway redis-server at ${redis.url}` : `TEST_REDIS_URL=${env.TEST_REDIS_URL}`}`);

  const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=1'];
  if (!process.stdout.isTTY) nodeArgs.push('--test-reporter=tap'); // '# pass N' / '# fail N' summary
  child = spawn(process.execPath, [...nodeArgs, ...files], { cwd: root, stdio: 'inherit', env });
  child.on('error', (err) => {
    console.error(`test/run.ts: could not start node: ${err.message}`);
    void finish(1);
  });
  child.on('exit', (code) => void finish(code ?? 1));
}

main().catch((err: unknown) => {
  console.error(`test/run.ts: ${err instanceof Error ? err.message : String(err)}`);
  void finish(1);
});

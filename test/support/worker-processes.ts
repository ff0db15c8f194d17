/**
 * Worker processes for multi-process tests: workers/main.ts itself, the production composition root,
 * run as a child with its configuration in the environment. stop() sends SIGTERM (the drain) and waits.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  /** Resolves once the process logged that its workers started. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** `env` adds to a minimal valid configuration (Stripe key and webhook secret, an API token, info logs). */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      STRIPE_SECRET_KEY: 'sk_test_worker_process',
      STRIPE_WEBHOOK_SECRET: 'whsec_worker_process',
      ENTITLEMENT_API_TOKENS: 'worker-process-token-0001',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"msg":"workers started"')) resolve();
    });
    void exited.then(([code]) => reject(new Error(`worker process exited (${String(code)}) before it started`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

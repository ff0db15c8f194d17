/**
 * A worker process for crash tests: the real worker set (the production lock and stalled-check options)
 * on its own Redis connection, whose refreshes never finish. It tells its parent over IPC when a refresh
 * starts, so the parent can kill -9 it mid-job. Started by startStallingWorker().
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createSilentLogger } from '../../src/logger.js';
import { createWorkerConnection } from '../../src/store/redis-connections.js';
import { createEventLedger } from '../../src/store/event-ledger.js';
import { systemClock, isEntryPoint } from '../../src/runtime.js';
import { createWorkerSet } from '../../workers/worker-set.js';

export interface StallingWorker {
  /** Resolves with the customer id of the first refresh the child took. */
  started: Promise<string>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
}

export function startStallingWorker(redisUrl: string, prefix: string): StallingWorker {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [redisUrl, prefix], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const started = new Promise<string>((resolve, reject) => {
    child.on('message', (message: { started?: string }) => {
      if (message.started) resolve(message.started);
    });
    void exited.then(() => reject(new Error('the stalling worker exited before taking a job')));
  });
  started.catch(() => undefined);
  return {
    started,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

if (isEntryPoint(import.meta.url)) {
  const [redisUrl, prefix] = process.argv.slice(2) as [string, string];
  const connection = createWorkerConnection(redisUrl, 'test-stalling-worker');
  connection.on('error', () => {});
  // Only the refresh matters here; the other workers get parts that never run (their queues stay empty).
  const idle = () => Promise.reject(new Error('not in this test'));
  createWorkerSet({
    connection,
    prefix,
    logger: createSilentLogger(),
    queueClock: systemClock,
    ledger: createEventLedger({ redis: connection, prefix }),
    producers: { refresh: idle, expirySignal: idle },
    syncCustomer: (customerId) => {
      process.send?.({ started: customerId });
      return new Promise(() => {});
    },
    concurrency: 1,
    cardExpiry: {
      service: { runNoticeWindow: idle, runExpiryCheck: idle, runGraceEnd: idle, applySignal: idle },
      sweep: { sweep: idle },
      noticeSender: { send: idle },
      noticesPerSecond: 1,
    },
  });
}

/**
 * Real subgate processes for fault tests: the API, the worker and the all-in-one entry points started
 * with `node --import tsx` (the code under test, no build step), configured through their environment
 * only, with their JSON log lines kept so a test can wait for one ('api listening', 'shutdown
 * complete'). Every child is killed on every way out of the test process (exit, SIGINT, SIGTERM,
 * SIGHUP); the fault runner also kills its whole process group at the end, so nothing outlives a run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './redis.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

/** The entry points: what `npm run start:api`, `npm run start:worker` and `npm start` run. */
export const ENTRY = {
  api: { file: join(REPO_ROOT, 'src', 'main.ts'), args: [] as string[] },
  worker: { file: join(REPO_ROOT, 'workers', 'main.ts'), args: [] as string[] },
  all: { file: join(REPO_ROOT, 'src', 'main.ts'), args: ['--with-workers'] },
} as const;
export type EntryKind = keyof typeof ENTRY;

export interface LogLine {
  /** performance.now() in this process when the line arrived. */
  at: number;
  stream: 'stdout' | 'stderr';
  text: string;
  /** The pino record, when the line is one. */
  json: Record<string, unknown> | null;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  readonly label: string;
  readonly pid: number;
  readonly logs: LogLine[];
  /** Resolves when the process has exited (whatever the cause). */
  readonly exited: Promise<Exit>;
  readonly running: boolean;
  /** Resolves with the first log line (past or future) with this pino `msg`, or matching the predicate. */
  waitForLog(match: string | ((line: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  /** Lines whose pino `msg` is this. */
  logsWith(msg: string): LogLine[];
  signal(signal: NodeJS.Signals): void;
  /** kill -9 and wait for the exit. */
  kill9(): Promise<Exit>;
  /** SIGTERM, SIGKILL if still running after `graceMs`; resolves with the exit. */
  stop(graceMs?: number): Promise<Exit>;
  /** The last lines of its output, for failure messages. */
  tail(lines?: number): string;
}

const children = new Set<ChildProcess>();
function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killChildren();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

const matcher = (match: string | ((line: LogLine) => boolean)) =>
  typeof match === 'string' ? (line: LogLine) => line.json?.msg === match : match;

/**
 * Starts `node --import tsx <file> ...args` with exactly `env` (plus PATH and HOME), in a scratch working
 * directory so no `.env` of a developer's checkout is read.
 */
export function spawnNode(label: string, file: string, args: readonly string[], env: Record<string, string>): NodeProcess {
  const cwd = mkdtempSync(join(tmpdir(), 'subgate-proc-'));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, file, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const logs: LogLine[] = [];
  const waiters = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  const collect = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const text of lines) {
        if (!text) continue;
        let json: Record<string, unknown> | null = null;
        if (text.startsWith('{')) {
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = null;
          }
        }
        const line: LogLine = { at: performance.now(), stream, text, json };
        logs.push(line);
        for (const waiter of waiters) {
          if (waiter.test(line)) {
            waiters.delete(waiter);
            waiter.resolve(line);
          }
        }
      }
    });
  };
  collect('stdout');
  collect('stderr');
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      children.delete(child);
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  child.once('error', () => undefined); // surfaces as the exit and in the tail

  const tail = (count = 30) => logs.slice(-count).map((l) => l.text.slice(0, 400)).join('\n');
  const proc: NodeProcess = {
    label,
    pid: child.pid ?? 0,
    logs,
    exited,
    get running() {
      return running;
    },
    waitForLog(match, timeoutMs = 30_000) {
      const test = matcher(match);
      const seen = logs.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const waiter = { test, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${label}: no log line ${String(match)} within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${label} exited before logging ${String(match)}\n${tail()}`));
        });
      });
    },
    logsWith: (msg) => logs.filter((l) => l.json?.msg === msg),
    signal(signal) {
      if (running) child.kill(signal);
    },
    async kill9() {
      if (running) child.kill('SIGKILL');
      return exited;
    },
    async stop(graceMs = 30_000) {
      if (!running) return exited;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(force);
      return exit;
    },
    tail,
  };
  return proc;
}

export interface SubgateProcess extends NodeProcess {
  readonly kind: EntryKind;
  /** http://127.0.0.1:<port> of the API (empty for a worker process). */
  readonly url: string;
}

/**
 * Starts one subgate entry point and resolves once it is ready: the API has logged its port, the
 * workers have started. PORT defaults to 0 (a free port, read back from the 'api listening' line).
 */
export async function startSubgate(kind: EntryKind, env: Record<string, string>, label: string = kind): Promise<SubgateProcess> {
  const entry = ENTRY[kind];
  const proc = spawnNode(label, entry.file, entry.args, { PORT: '0', ...env });
  try {
    let url = '';
    if (kind !== 'worker') {
      const listening = await proc.waitForLog('api listening');
      url = `http://127.0.0.1:${Number(listening.json?.port)}`;
    }
    if (kind !== 'api') await proc.waitForLog('workers started');
    return Object.assign(proc, { kind, url });
  } catch (err) {
    await proc.kill9();
    throw err;
  }
}

/** Waits for the exit and returns it with the shutdown report the process logged, if any. */
export async function exitReport(proc: NodeProcess, timeoutMs = 60_000): Promise<Exit & { shutdown: Record<string, unknown> | null }> {
  await waitFor(() => !proc.running, { timeoutMs, intervalMs: 50, message: `${proc.label} to exit` });
  const exit = await proc.exited;
  return { ...exit, shutdown: proc.logsWith('shutdown complete')[0]?.json ?? null };
}

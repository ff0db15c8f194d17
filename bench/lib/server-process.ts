/**
 * The orchestrator side of a bench server: compile every server the same way (tsc into bench/tmp/build,
 * then plain `node`, so no server pays for a TypeScript loader), spawn one as a child, wait for it to
 * report ready over IPC, ask it things, and stop it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD_DIR = join(REPO_ROOT, 'bench', 'tmp', 'build');

export type ServerName =
  | 'b1-express-const'
  | 'b2-express-hgetall'
  | 'b3-http-hgetall'
  | 'b4-naive-webhook'
  | 'subgate-api'
  | 'subgate-workers'
  | 'subgate-sweep'
  | 'subgate-all-in-one';

const SERVERS: ServerName[] = ['b1-express-const', 'b2-express-hgetall', 'b3-http-hgetall', 'b4-naive-webhook', 'subgate-api', 'subgate-workers', 'subgate-sweep', 'subgate-all-in-one'];

/** Compiles bench/servers with the repo's own compiler; type errors elsewhere in the tree only warn. */
export function buildServers(): void {
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const result = spawnSync(tsc, ['-p', join(REPO_ROOT, 'bench', 'tsconfig.servers.json')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.error) throw new Error(`could not run tsc: ${result.error.message}`);
  const missing = SERVERS.filter((name) => !existsSync(serverFile(name)));
  if (missing.length > 0) throw new Error(`tsc did not emit ${missing.join(', ')}:\n${result.stdout}${result.stderr}`);
  if (result.status !== 0) console.error(`bench: tsc reported type errors (servers were still emitted):\n${result.stdout.slice(0, 2000)}`);
}

function serverFile(name: ServerName): string {
  return join(BUILD_DIR, 'bench', 'servers', `${name}.js`);
}

export interface Usage extends Record<string, unknown> {
  maxRss: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
}

export interface ServerProcess {
  name: string;
  pid: number;
  /** 0 for servers without a port. */
  port: number;
  request<T extends Record<string, unknown>>(type: string, payload?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Peak (maxRss) and current RSS and V8 heap of the child, in bytes. */
  usage(): Promise<Usage>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env: Record<string, string>;
  /** Directory for a `node --cpu-prof` profile of this child, written when it stops. */
  cpuProfileDir?: string;
}

export function startServer(name: ServerName, options: StartOptions): Promise<ServerProcess> {
  return startServerFile(name, serverFile(name), options);
}

/** Any server script speaking bench/lib/child.ts's protocol (also for one-off experiments). */
export async function startServerFile<N extends string>(name: N, file: string, options: StartOptions & { nodeArgs?: string[] }): Promise<ServerProcess & { name: N }> {
  const nodeArgs: string[] = [...(options.nodeArgs ?? [])];
  if (options.cpuProfileDir) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir, '--cpu-prof-name', `${name.replace(/[^\w.-]/g, '_')}.${Date.now()}.cpuprofile`);
  }
  const child = spawn(process.execPath, [...nodeArgs, file], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...options.env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  const pending = new Map<number, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (raw) => {
    const message = raw as Record<string, unknown>;
    const waiter = typeof message.id === 'number' ? pending.get(message.id) : undefined;
    if (!waiter) return;
    pending.delete(message.id as number);
    if (message.ok) waiter.resolve(message);
    else waiter.reject(new Error(`${name}: ${String(message.error)}`));
  });
  child.on('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (${code ?? signal}): ${stderr}`));
    pending.clear();
  });

  const port = await waitReady(child, name, () => stderr);

  const request = <T extends Record<string, unknown>>(type: string, payload: Record<string, unknown> = {}, timeoutMs = 10_000) =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${name} is not running: ${stderr}`));
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name}: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, type, ...payload });
    });

  return {
    name,
    pid: child.pid ?? 0,
    port,
    request,
    usage: () => request<Usage>('usage'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await request('stop', {}, 2000).catch(() => child.kill('SIGTERM'));
      const kill = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(kill);
    },
  };
}

function waitReady(child: ChildProcess, name: string, stderr: () => string, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not become ready within ${timeoutMs} ms: ${stderr()}`));
    }, timeoutMs);
    const onMessage = (raw: unknown) => {
      const message = raw as Record<string, unknown>;
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(Number(message.port ?? 0));
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before ready (${code ?? signal}): ${stderr()}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not start: ${err.message}`));
    });
  });
}

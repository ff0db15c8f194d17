// Runner behind `npm run test:faults`: the fault suite, NOT part of `npm test`.
//
//   tsx test/faults/run.ts                       every test/faults/*.test.ts
//   tsx test/faults/run.ts test/faults/x.test.ts only the given files
//
// Each scenario starts real processes of its own (redis-server, the subgate entry points); files run
// one at a time. The tests run in a process group of their own, which is killed at the end on every
// way out, so no redis-server or node process outlives the run; any that had to be killed is reported.
// Every scenario's figures are collected in a temp file and printed as one table at the end.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisServerBinary } from '../support/redis.js';
import { formatFigures, type ScenarioFigures } from '../support/fault-report.js';
import { killGroup } from '../support/process-group.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'subgate-faults-'));
const reportFile = join(scratch, 'figures.jsonl');
const startedAt = Date.now();
let child: ChildProcess | undefined;
let interrupted: number | undefined;
let finishing = false;

function finish(code: number): never {
  finishing = true;
  const pgid = child?.pid;
  const left = pgid ? killGroup(pgid) : [];
  let rows: ScenarioFigures[] = [];
  try {
    rows = readFileSync(reportFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ScenarioFigures);
  } catch {
    // no scenario reported
  }
  rmSync(scratch, { recursive: true, force: true });
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  console.log(`\n# fault suite figures (this machine: ${cpuCount()} cores)\n${rows.length ? formatFigures(rows) : '(none recorded)'}`);
  console.log(`# lost, all scenarios: ${rows.reduce((n, r) => n + r.lost, 0)}`);
  console.log(`# fault suite took ${seconds} s`);
  if (left.length > 0) {
    console.error(`# processes left behind by the tests, killed now: ${left.join(', ')}`);
    if (code === 0) code = 1;
  }
  process.exit(interrupted ?? code);
}

function cpuCount(): number {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
  } catch {
    return 0;
  }
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(signal, () => {
    interrupted ??= code;
    // The tests' own hooks stop their children; the group kill in finish() is the last resort.
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    else if (!finishing) finish(code);
  });
}
process.on('exit', () => {
  if (!finishing && child?.pid) killGroup(child.pid);
});

function main(): void {
  if (!redisServerBinary()) {
    throw new Error('The fault suite needs a redis-server binary it can start and kill (PATH or REDIS_SERVER_BIN).');
  }
  const args = process.argv.slice(2);
  const dir = join(root, 'test', 'faults');
  const files =
    args.length > 0
      ? args.map((file) => resolve(file))
      : readdirSync(dir)
          .filter((name) => name.endsWith('.test.ts'))
          .sort()
          .map((name) => join(dir, name));
  if (files.length === 0) throw new Error('no test files under test/faults');

  const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=1'];
  if (!process.stdout.isTTY) nodeArgs.push('--test-reporter=tap');
  child = spawn(process.execPath, [...nodeArgs, ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FAULTS_REPORT: reportFile },
    detached: true, // its own process group, killed as a whole at the end
  });
  child.on('error', (err) => {
    console.error(`test/faults/run.ts: could not start node: ${err.message}`);
    finish(1);
  });
  child.on('exit', (code) => finish(code ?? 1));
}

try {
  main();
} catch (err) {
  console.error(`test/faults/run.ts: ${err instanceof Error ? err.message : String(err)}`);
  finish(1);
}

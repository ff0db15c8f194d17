/**
 * The suites that start real servers (faults, cluster) run their tests as one process group; at the end
 * the runner must know what is still alive in it and kill it, so nothing outlives a run. Linux /proc only.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Pids still alive in the process group (the group id is the test runner's pid). */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the ")" ending the command name: state ppid pgrp ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/**
 * Waits up to 3 s for the group to go (servers told to stop by a test's exit hook may take a moment), then
 * kills what is left; returns the pids that were still alive (leaks: the runner fails on them).
 */
export function killGroup(pgid: number): number[] {
  const until = Date.now() + 3000;
  let left = groupMembers(pgid);
  while (left.length > 0 && Date.now() < until) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    left = groupMembers(pgid);
  }
  if (left.length > 0) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return left;
}

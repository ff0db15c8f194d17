/**
 * Process plumbing shared by the entry points: the system clock, and whether a module is the one node
 * was started with. How a process leaves on SIGTERM is drain.ts's.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Clock } from './domain/projection.js';

export const systemClock: Clock = { now: () => Date.now() };

/** True when the module at `moduleUrl` is the script node was started with. */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

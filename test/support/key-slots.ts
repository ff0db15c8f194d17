/**
 * Redis Cluster's slot of a key (CRC16 of the hash tag, or of the whole name, mod 16384), through the same
 * implementation ioredis's Cluster client routes by; and a recorder of the keys each command a connection
 * sends touches, so a test can say which commands would span slots on a cluster.
 */
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';

export const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

export interface SentCommand {
  name: string;
  keys: string[];
}

/** Records every command sent on `redis` from now on (its keys as ioredis computes them); stop() restores it. */
export function recordCommands(redis: Redis): { commands: SentCommand[]; stop(): void } {
  const commands: SentCommand[] = [];
  const target = redis as unknown as { sendCommand: (command: { name: string; getKeys(): Array<string | Buffer> }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand;
  target.sendCommand = function (command, ...rest) {
    try {
      commands.push({ name: command.name, keys: command.getKeys().map(String) });
    } catch {
      commands.push({ name: command.name, keys: [] });
    }
    return original.call(this, command, ...rest);
  };
  return {
    commands,
    stop() {
      target.sendCommand = original;
    },
  };
}

/** Commands whose keys lie in more than one slot (a CROSSSLOT error on a cluster). */
export function crossSlot(commands: readonly SentCommand[]): SentCommand[] {
  return commands.filter((c) => new Set(c.keys.map(slotOf)).size > 1);
}

/**
 * "2xx means durable" beyond the primary: after a webhook's writes, WAIT until `replicas` replicas hold
 * them (REDIS_ACK_REPLICAS), so an acknowledged event survives the primary's loss and a failover. WAIT
 * counts the writes of the connection it is sent on: on a cluster it goes to every master's connection (a
 * node this process wrote nothing to answers at once). Not enough replicas in time is an error the
 * webhook answers 503, and Stripe's retry comes back.
 */
import type { Redis } from 'ioredis';
import { mastersOf } from './redis-connections.js';

export class ReplicaAckTimeout extends Error {
  constructor(readonly acknowledged: number, readonly wanted: number, readonly timeoutMs: number) {
    super(`ReplicaAckTimeout: ${acknowledged} of ${wanted} replicas acknowledged within ${timeoutMs} ms`);
    this.name = 'ReplicaAckTimeout';
  }
}

export interface ReplicaAck {
  readonly replicas: number;
  /** Resolves once `replicas` replicas hold this connection's writes; rejects with ReplicaAckTimeout. */
  confirm(): Promise<void>;
}

export function createReplicaAck(deps: { redis: Redis; replicas: number; timeoutMs: number }): ReplicaAck {
  return {
    replicas: deps.replicas,
    async confirm() {
      if (deps.replicas <= 0) return;
      const counts = await Promise.all(mastersOf(deps.redis).map(async (node) => Number(await node.call('WAIT', deps.replicas, deps.timeoutMs))));
      const fewest = Math.min(...counts);
      if (fewest < deps.replicas) throw new ReplicaAckTimeout(fewest, deps.replicas, deps.timeoutMs);
    },
  };
}

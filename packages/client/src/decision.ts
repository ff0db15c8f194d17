/**
 * What a gate decides for one request, whatever the framework: subgate's answer about the signed-in
 * reader, or `anonymous` when nobody is signed in. Framework-free, so the edge builds and the Express and
 * Fastify adapters share it.
 */
import type { EntitlementCheck } from './types.js';

/** No reader is signed in: render "log in to keep reading". */
export interface AnonymousEntitlement {
  entitled: false;
  status: 'anonymous';
  source: 'none';
  user: null;
  update_card_url: null;
}

export type GateDecision = EntitlementCheck | AnonymousEntitlement;

export const ANONYMOUS: AnonymousEntitlement = Object.freeze({
  entitled: false,
  status: 'anonymous',
  source: 'none',
  user: null,
  update_card_url: null,
}) as AnonymousEntitlement;

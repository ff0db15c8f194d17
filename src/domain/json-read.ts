/**
 * Readers for untrusted JSON (webhook payloads, API answers read loosely): each returns the value when it
 * has the expected kind, else null, so a missing or odd field never throws.
 */
export type Json = Record<string, unknown>;

export const obj = (value: unknown): Json | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null);
export const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
export const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

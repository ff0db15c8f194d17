/** The 10-field hashes the Redis baselines (B2, B3) read: shared by the seeder and the servers. */
export const BASELINE_HASHES = 1000;
export const baselineHashKey = (i: number) => `benchbase:h:${i}`;

/** Ten fields of plausible sizes, roughly what an entitlement read returns. */
export function baselineHashFields(i: number): Record<string, string> {
  return {
    customer: `cus_base${String(i).padStart(10, '0')}`,
    user: `user-${i}`,
    status: 'active',
    entitled: 'true',
    reason: 'subscribed',
    subscription: `sub_base${String(i).padStart(10, '0')}`,
    current_period_end: '2026-12-01T00:00:00.000Z',
    card_brand: 'visa',
    card_last4: '4242',
    card_exp: '12/2028',
  };
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signLinkToken, verifyLinkToken } from '../../src/domain/link-token.js';

const SECRET = 'a-link-signing-secret-of-32-chars-or-more';
const NOW = Date.UTC(2027, 0, 1);

describe('link tokens', () => {
  const token = signLinkToken('cus_abc', NOW + 60_000, SECRET);

  it('a token verifies for its customer until its expiry', () => {
    assert.deepEqual(verifyLinkToken(token, SECRET, NOW), { ok: true, customerId: 'cus_abc', expiresAt: NOW + 60_000 });
    assert.deepEqual(verifyLinkToken(token, SECRET, NOW + 60_000), { ok: false, reason: 'expired' });
  });

  it('another secret, a changed customer, a changed expiry or a changed signature are forgeries', () => {
    const [v, customer, exp, mac] = token.split('.') as [string, string, string, string];
    assert.deepEqual(verifyLinkToken(token, `${SECRET}x`, NOW), { ok: false, reason: 'forged' });
    assert.deepEqual(verifyLinkToken(`${v}.${Buffer.from('cus_other').toString('base64url')}.${exp}.${mac}`, SECRET, NOW), { ok: false, reason: 'forged' });
    assert.deepEqual(verifyLinkToken(`${v}.${customer}.${Number(exp) + 1}.${mac}`, SECRET, NOW), { ok: false, reason: 'forged' });
    const flipped = mac.startsWith('A') ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    assert.deepEqual(verifyLinkToken(`${v}.${customer}.${exp}.${flipped}`, SECRET, NOW), { ok: false, reason: 'forged' });
  });

  it('a forged token never reads as merely expired', () => {
    const old = signLinkToken('cus_abc', NOW - 1000, `${SECRET}x`);
    assert.deepEqual(verifyLinkToken(old, SECRET, NOW), { ok: false, reason: 'forged' });
  });

  it('anything else is malformed', () => {
    for (const bad of [undefined, '', 'v1', 'v2.a.b.c', `v1.${Buffer.from('acct_1').toString('base64url')}.1.${'A'.repeat(43)}`, 'v1.x.notanumber.y', ['v1'], 'v1.a.1.' + 'A'.repeat(2000)]) {
      assert.deepEqual(verifyLinkToken(bad, SECRET, NOW), { ok: false, reason: 'malformed' }, String(bad).slice(0, 30));
    }
  });
});

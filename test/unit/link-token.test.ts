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

  describe('exactly one spelling of a valid token verifies', () => {
    const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    /** The same bytes, spelled with other (non-zero) trailing bits in the last character. */
    const otherTrailingBits = (text: string, spareBits: number): string[] => {
      const last = B64URL.indexOf(text.at(-1)!);
      return Array.from({ length: (1 << spareBits) - 1 }, (_, i) => `${text.slice(0, -1)}${B64URL[last | (i + 1)]}`);
    };
    const [v, customer, exp, mac] = token.split('.') as [string, string, string, string];
    const check = (spelling: string) => verifyLinkToken(spelling, SECRET, NOW);

    it('the alternative spellings decode to the same customer, expiry and MAC (so they would verify if accepted)', () => {
      assert.equal(Buffer.from(customer, 'base64url').toString(), 'cus_abc');
      for (const alt of otherTrailingBits(customer, 4)) assert.equal(Buffer.from(alt, 'base64url').toString(), 'cus_abc');
      for (const alt of otherTrailingBits(mac, 2)) assert.deepEqual(Buffer.from(alt, 'base64url'), Buffer.from(mac, 'base64url'));
    });

    it('the customer part with non-zero trailing bits, padding, standard base64 or stray characters is malformed', () => {
      const spellings = [
        ...otherTrailingBits(customer, 4),
        `${customer}==`,
        `${customer}=`,
        ` ${customer}`,
        `${customer.slice(0, 4)}\n${customer.slice(4)}`,
        Buffer.from('cus_abc').toString('base64'),
      ];
      assert.ok(spellings.length >= 18);
      for (const alt of spellings) assert.deepEqual(check(`${v}.${alt}.${exp}.${mac}`), { ok: false, reason: 'malformed' }, JSON.stringify(alt));
    });

    it('seconds with leading zeros or a sign are malformed', () => {
      for (const alt of [`0${exp}`, `00${exp}`, `+${exp}`, `${exp}.0`]) {
        assert.deepEqual(check(`${v}.${customer}.${alt}.${mac}`), { ok: false, reason: 'malformed' }, alt);
      }
    });

    it('the MAC with non-zero trailing bits is malformed', () => {
      const alts = otherTrailingBits(mac, 2);
      assert.equal(alts.length, 3);
      for (const alt of alts) assert.deepEqual(check(`${v}.${customer}.${exp}.${alt}`), { ok: false, reason: 'malformed' }, alt);
    });

    it('the canonical spelling is the one signLinkToken writes, and it verifies', () => {
      assert.equal(check(token).ok, true);
      assert.equal(signLinkToken('cus_abc', NOW + 60_000, SECRET), token);
    });
  });

  it('anything else is malformed', () => {
    for (const bad of [undefined, '', 'v1', 'v2.a.b.c', `v1.${Buffer.from('acct_1').toString('base64url')}.1.${'A'.repeat(43)}`, 'v1.x.notanumber.y', ['v1'], 'v1.a.1.' + 'A'.repeat(2000)]) {
      assert.deepEqual(verifyLinkToken(bad, SECRET, NOW), { ok: false, reason: 'malformed' }, String(bad).slice(0, 30));
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DAY_MS, cardExpiresAt, isCardExpired, noticeInstants, tryCardExpiresAt } from '../../src/domain/card-expiry.js';

const at = (iso: string): number => Date.parse(iso);

describe('cardExpiresAt', () => {
  it('expires at the first instant of the month after the printed month', () => {
    assert.equal(cardExpiresAt(8, 2030), at('2030-09-01T00:00:00.000Z'));
  });

  it('rolls a December card over into January of the next year', () => {
    assert.equal(cardExpiresAt(12, 2026), at('2027-01-01T00:00:00.000Z'));
  });

  it('handles months of every length, including 30-day months', () => {
    assert.equal(cardExpiresAt(4, 2027), at('2027-05-01T00:00:00.000Z'));
    assert.equal(cardExpiresAt(1, 2027), at('2027-02-01T00:00:00.000Z'));
  });

  it('lets a February card in a leap year run through the 29th', () => {
    const expiresAt = cardExpiresAt(2, 2028);
    assert.equal(expiresAt, at('2028-03-01T00:00:00.000Z'));
    assert.equal(expiresAt - 1, at('2028-02-29T23:59:59.999Z'));
  });

  it('lets a February card in a common year run through the 28th', () => {
    assert.equal(cardExpiresAt(2, 2027), at('2027-03-01T00:00:00.000Z'));
  });

  it('rejects months outside 1..12 and non-integer months with a RangeError', () => {
    for (const month of [0, 13, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => cardExpiresAt(month, 2030), RangeError, `month ${month}`);
    }
  });

  it('rejects two-digit and non-integer years rather than guessing a century', () => {
    for (const year of [26, 0, 2030.5, 10000, Number.NaN]) {
      assert.throws(() => cardExpiresAt(6, year), RangeError, `year ${year}`);
    }
  });

  it('returns null instead of throwing from the tolerant variant', () => {
    assert.equal(tryCardExpiresAt(13, 2030), null);
    assert.equal(tryCardExpiresAt(12, 2030), at('2031-01-01T00:00:00.000Z'));
  });
});

describe('isCardExpired', () => {
  const card = { exp_month: 2, exp_year: 2028 };

  it('is not expired one millisecond before the expiry instant', () => {
    assert.equal(isCardExpired(card, at('2028-02-29T23:59:59.999Z')), false);
  });

  it('is expired at exactly the expiry instant', () => {
    assert.equal(isCardExpired(card, at('2028-03-01T00:00:00.000Z')), true);
  });

  it('is not expired during the printed month itself', () => {
    assert.equal(isCardExpired({ exp_month: 12, exp_year: 2026 }, at('2026-12-31T12:00:00.000Z')), false);
    assert.equal(isCardExpired({ exp_month: 12, exp_year: 2026 }, at('2027-01-01T00:00:00.000Z')), true);
  });

  it('throws on a nonsense month rather than answering', () => {
    assert.throws(() => isCardExpired({ exp_month: 0, exp_year: 2030 }, 0), RangeError);
  });
});

describe('noticeInstants', () => {
  const expiresAt = at('2027-01-01T00:00:00.000Z');

  it('schedules one notice per window, latest first', () => {
    assert.deepEqual(noticeInstants(expiresAt, [30, 7, 1]), [
      at('2026-12-31T00:00:00.000Z'),
      at('2026-12-25T00:00:00.000Z'),
      at('2026-12-02T00:00:00.000Z'),
    ]);
  });

  it('sorts latest first whatever the order of the windows', () => {
    assert.deepEqual(noticeInstants(expiresAt, [1, 30, 7]), noticeInstants(expiresAt, [30, 7, 1]));
  });

  it('collapses duplicate windows', () => {
    assert.deepEqual(noticeInstants(expiresAt, [7, 7]), [expiresAt - 7 * DAY_MS]);
  });

  it('places a zero-day window at the expiry instant itself', () => {
    assert.deepEqual(noticeInstants(expiresAt, [0]), [expiresAt]);
  });

  it('counts back across a leap day in exact 24-hour days', () => {
    assert.deepEqual(noticeInstants(at('2028-03-01T00:00:00.000Z'), [1, 2]), [
      at('2028-02-29T00:00:00.000Z'),
      at('2028-02-28T00:00:00.000Z'),
    ]);
  });

  it('returns nothing for no windows', () => {
    assert.deepEqual(noticeInstants(expiresAt, []), []);
  });

  it('rejects negative or fractional windows', () => {
    assert.throws(() => noticeInstants(expiresAt, [-1]), RangeError);
    assert.throws(() => noticeInstants(expiresAt, [1.5]), RangeError);
  });
});

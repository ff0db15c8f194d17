import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskEmail } from '../../src/domain/mask-email.js';

test('an address keeps its first character and its domain only', () => {
  assert.equal(maskEmail('reader@example.com'), 'r***@example.com');
  assert.equal(maskEmail('a@b'), 'a***@b');
  assert.equal(maskEmail('odd@name@example.com'), 'o***@example.com');
  assert.equal(maskEmail('@example.com'), '***');
  assert.equal(maskEmail('no-at-sign'), '***');
  assert.equal(maskEmail(''), null);
  assert.equal(maskEmail(null), null);
});

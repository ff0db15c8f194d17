import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenCheck, requireScope } from '../../src/http/bearer-auth.js';
import { AuthError, ForbiddenError } from '../../src/http/errors.js';

describe('bearer token check', () => {
  const check = createTokenCheck([
    { name: 'site', scopes: ['check', 'feed'], token: 'site-token-000000001' },
    'bare-token-00000000002',
  ]);

  test('a configured token yields its principal: name and scopes, never the token', () => {
    const site = check('Bearer site-token-000000001');
    assert.equal(site?.name, 'site');
    assert.deepEqual([...(site?.scopes ?? [])], ['check', 'feed']);
    assert.ok(!JSON.stringify(site).includes('site-token'), 'the principal does not carry the token');
  });

  test('a bare token has every scope and is named by its position', () => {
    const bare = check('bearer bare-token-00000000002');
    assert.equal(bare?.name, 'token-2');
    assert.deepEqual([...(bare?.scopes ?? [])], ['check', 'links', 'feed']);
  });

  test('a missing, malformed, unknown or oversized header yields no principal', () => {
    for (const header of [undefined, '', 'Basic site-token-000000001', 'Bearer', 'Bearer site-token-00000000', 'Bearer site-token-000000001 x', `Bearer ${'a'.repeat(5000)}`]) {
      assert.equal(check(header), null, String(header).slice(0, 40));
    }
  });

  test('requireScope: no principal is a 401, a principal without any of the scopes a 403 naming them', () => {
    const site = check('Bearer site-token-000000001');
    assert.equal(requireScope(site, ['check', 'links'], 'ask'), site);
    assert.equal(requireScope(site, ['feed'], 'follow the feed'), site);
    assert.throws(() => requireScope(null, ['check'], 'ask'), AuthError);
    assert.throws(
      () => requireScope(site, ['links'], 'get links'),
      (err: unknown) => err instanceof ForbiddenError && err.status === 403 && err.code === 'insufficient_scope' && /needs the links scope/.test(err.message),
    );
  });
});

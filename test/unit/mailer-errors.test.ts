import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyMailError, describeMailError } from '../../src/adapters/mailer.js';

describe('mail errors', () => {
  it('4xx replies and network failures are temporary; 5xx replies and bad messages are permanent', () => {
    assert.equal(classifyMailError({ code: 'EMESSAGE', responseCode: 451 }), 'temporary');
    assert.equal(classifyMailError({ code: 'EENVELOPE', responseCode: 421 }), 'temporary');
    assert.equal(classifyMailError({ code: 'ESOCKET' }), 'temporary');
    assert.equal(classifyMailError({ code: 'ECONNECTION' }), 'temporary');
    assert.equal(classifyMailError({ code: 'ETIMEDOUT' }), 'temporary');
    assert.equal(classifyMailError({ code: 'EENVELOPE', responseCode: 550 }), 'permanent');
    assert.equal(classifyMailError({ code: 'EMESSAGE', responseCode: 552 }), 'permanent');
    assert.equal(classifyMailError({ code: 'EAUTH', responseCode: 535 }), 'permanent');
    assert.equal(classifyMailError({ code: 'EENVELOPE' }), 'permanent');
  });

  it('the recorded reason keeps the code and reply but not the address', () => {
    const detail = describeMailError({ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 <reader@example.test>: Recipient unknown' });
    assert.match(detail, /^EENVELOPE 550 550 5\.1\.1/);
    assert.ok(!detail.includes('reader@example.test'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApiVersionWatch } from '../../src/http/api-version-watch.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines };
}

describe('the API version watch', () => {
  it('counts every event by its version, and warns once per version other than the expected one', () => {
    const { logger, lines } = capture();
    const counted: string[] = [];
    const observe = createApiVersionWatch({ expected: '2026-10-28.endive', logger, count: (v) => counted.push(v) });
    for (const version of ['2026-10-28.endive', '2020-08-27', '2020-08-27', '2025-03-31.basil', '2026-10-28.endive', '2020-08-27']) observe(version, 'evt_1');
    assert.deepEqual(counted, ['2026-10-28.endive', '2020-08-27', '2020-08-27', '2025-03-31.basil', '2026-10-28.endive', '2020-08-27']);
    const warnings = lines.filter((l) => l.level === 40);
    assert.deepEqual(warnings.map((w) => w.apiVersion), ['2020-08-27', '2025-03-31.basil']);
    assert.equal(warnings[0]!.sdkApiVersion, '2026-10-28.endive');
    assert.match(String(warnings[0]!.msg), /set the endpoint to the pinned version/);
    assert.equal(lines.length, 2, 'nothing logged for events in the expected version');
  });

  it('labels a missing version "none" and anything not shaped like a version "other" (bounded labels)', () => {
    const { logger } = capture();
    const counted: string[] = [];
    const observe = createApiVersionWatch({ expected: '2026-10-28.endive', logger, count: (v) => counted.push(v) });
    observe(null, 'evt_1');
    observe(undefined, 'evt_2');
    observe('2026-10-28.endive; drop table', 'evt_3');
    assert.deepEqual(counted, ['none', 'none', 'other']);
  });
});

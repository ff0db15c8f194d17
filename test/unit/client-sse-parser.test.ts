import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSseParser, type SseMessage } from '../../packages/client/src/sse.js';
import { LruCache } from '../../packages/client/src/lru-cache.js';

const parse = (chunks: string[]) => {
  const out: SseMessage[] = [];
  const parser = createSseParser((m) => out.push(m));
  for (const chunk of chunks) parser.push(chunk);
  return out;
};

test('an event split across chunks at any byte, with CRLF line ends, parses as one', () => {
  const text = 'id: 1-0\r\nevent: change\r\ndata: {"a":1}\r\n\r\n';
  for (let cut = 1; cut < text.length; cut++) {
    assert.deepEqual(parse([text.slice(0, cut), text.slice(cut)]), [{ event: 'change', data: '{"a":1}', lastEventId: '1-0' }], `cut at ${cut}`);
  }
});

test('comments are ignored, data lines join with newlines, ids carry over, bare CR ends a line', () => {
  const out = parse([': keep-alive\n\n', 'id: 5-1\ndata: a\ndata: b\n\n', 'data: c\r\r', 'event: ready\ndata:{}\n\n']);
  assert.deepEqual(out, [
    { event: 'message', data: 'a\nb', lastEventId: '5-1' },
    { event: 'message', data: 'c', lastEventId: '5-1' },
    { event: 'ready', data: '{}', lastEventId: '5-1' },
  ]);
});

test('the LRU cache evicts the least recently used entry and says which', () => {
  const evicted: string[] = [];
  const cache = new LruCache<number>(2, (key) => evicted.push(key));
  cache.set('a', 1);
  cache.set('b', 2);
  cache.get('a');
  cache.set('c', 3);
  assert.deepEqual(evicted, ['b']);
  assert.deepEqual([cache.get('a'), cache.get('b'), cache.get('c'), cache.size], [1, undefined, 3, 2]);
});

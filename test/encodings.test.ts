/**
 * The encodings kept for recent messages (lib/encodings.ts): built once per message while kept,
 * the oldest let go first by bytes, and the bound holding however many messages pass through.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentEncodings } from '../lib/encodings';
import type { StoredMessage } from '../lib/stores/store';

function message(seq: number, bytes = 10): StoredMessage {
  const token = String(seq);
  return { channel: 'c', token, id: `0:${token}`, time: 0, contentType: 'text/plain', event: undefined, data: Buffer.alloc(bytes, 'x') };
}

test('a kept message is encoded once: every read gets the same encoding', () => {
  const encodings = new RecentEncodings([], 1000);
  const m = message(1);
  const first = encodings.get(m);
  assert.equal(encodings.get(m), first);
  assert.equal(first.message, m);
});

test('past the byte limit the oldest encodings go first, and an evicted message is encoded again', () => {
  const encodings = new RecentEncodings([], 30);
  const messages = [1, 2, 3, 4].map((seq) => message(seq));
  const made = messages.map((m) => encodings.get(m));
  assert.equal(encodings.size, 3, 'three 10-byte bodies fit in 30 bytes');
  assert.equal(encodings.get(messages[3] as StoredMessage), made[3], 'the newest is kept');
  assert.equal(encodings.get(messages[1] as StoredMessage), made[1], 'the second oldest is kept');
  assert.notEqual(encodings.get(messages[0] as StoredMessage), made[0], 'the oldest was let go and is built again');
});

test('the bound holds over many messages, evictions and the queue cut down included', () => {
  const encodings = new RecentEncodings([], 100);
  const lastTen = new Map<StoredMessage, unknown>();
  for (let seq = 1; seq <= 20_000; seq++) {
    const m = message(seq, 1 + (seq % 7));
    const encoding = encodings.get(m);
    if (seq > 19_990) lastTen.set(m, encoding);
    assert.ok(encodings.size <= 100, `at most 100 one-byte-or-more bodies kept, ${encodings.size} at ${seq}`);
  }
  for (const [m, encoding] of lastTen) assert.equal(encodings.get(m), encoding, `message ${m.token} is still kept`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMemoryStore } from '../lib/stores/memory/store';
import type { MessageStore } from '../lib/stores/store';

// What every store does is in test/store-contract.test.ts; here is what only the memory store does.

function store(options: Partial<Parameters<typeof createMemoryStore>[0]> = {}): MessageStore {
  return createMemoryStore({ buffer: 1000, messageTtl: 3600, maxChannels: 1000, isHeld: () => false, ...options });
}

const text = (data: string) => ({ data: Buffer.from(data), contentType: 'text/plain' });

test('its reads need no I/O: the immediate reads give the answers of the promise faces, and wake-ups come in step', async () => {
  const s = store({ maxChannels: 3 });
  const { immediate } = s;
  assert.ok(immediate !== undefined);
  assert.equal(s.wakesInStep, true);
  const start = immediate.head();
  assert.equal(start, await s.head());
  const one = await s.append('a', text('1'));
  await s.append('b', text('2'));
  assert.deepEqual(immediate.read(['a', 'b'], start, 10), await s.read(['a', 'b'], start, 10));
  assert.deepEqual(immediate.read(['a'], one.token, 10), await s.read(['a'], one.token, 10));
  assert.equal(immediate.head(), await s.head());
  assert.equal(immediate.touch(['c']), true);
  assert.equal(immediate.touch(['d']), false, 'a fourth channel passes the limit');
  await s.close();
});

test('messages evicted past --buffer or deleted are not kept until their TTL', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const s = store({ buffer: 1, maxChannels: 5000 });
  const evicted = new WeakRef((await s.append('busy', { data: Buffer.alloc(4096), contentType: 'text/plain' })).data);
  for (let i = 0; i < 5000; i++) await s.append('busy', { data: Buffer.alloc(4096), contentType: 'text/plain' });
  const deleted: WeakRef<Buffer>[] = [];
  for (let i = 0; i < 3000; i++) deleted.push(new WeakRef((await s.append(`gone${i}`, { data: Buffer.alloc(16), contentType: 'text/plain' })).data));
  for (let i = 0; i < 3000; i++) await s.delete(`gone${i}`);
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.equal(evicted.deref(), undefined, 'an evicted message is still referenced');
  assert.ok(deleted.filter((ref) => ref.deref() !== undefined).length < deleted.length / 2, 'most deleted messages are still referenced');
  assert.equal(s.stats().evicted, 5000);
  assert.equal((await s.read(['busy'], null, 10)).messages.length, 1);
  await s.close();
});

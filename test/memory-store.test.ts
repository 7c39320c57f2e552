import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMemoryStore } from '../lib/stores/memory/store';
import type { MessageStore } from '../lib/stores/store';

function store(options: Partial<Parameters<typeof createMemoryStore>[0]> = {}): MessageStore {
  return createMemoryStore({ buffer: 1000, messageTtl: 3600, maxChannels: 1000, isHeld: () => false, ...options });
}

const text = (data: string) => ({ data: Buffer.from(data), contentType: 'text/plain' });

test('tokens increase across channels and reads merge channels in publish order', async () => {
  const s = store();
  const a1 = await s.append('a', text('a1'));
  const b1 = await s.append('b', text('b1'));
  const a2 = await s.append('a', text('a2'));
  assert.ok(s.follows(b1.token, a1.token) && s.follows(a2.token, b1.token) && !s.follows(a1.token, a2.token));
  const all = await s.read(['b', 'a'], null, 10);
  assert.deepEqual(all.messages.map((m) => m.data.toString()), ['a1', 'b1', 'a2']);
  assert.equal(all.gap, false);
  assert.equal(all.head, a2.token);
  const after = await s.read(['a', 'b'], a1.token, 10);
  assert.deepEqual(after.messages.map((m) => m.data.toString()), ['b1', 'a2']);
  const limited = await s.read(['a', 'b'], null, 2);
  assert.equal(limited.more, true);
  assert.equal(limited.messages.length, 2);
  const none = await s.read(['a', 'b'], a2.token, 10);
  assert.deepEqual(none.messages, []);
  assert.equal(none.head, await s.head());
  assert.match(a1.id, new RegExp(`^\\d+:${a1.token}$`));
  await s.close();
});

test('eviction past --buffer is a gap for a client behind it, and counted', async () => {
  const s = store({ buffer: 2 });
  const first = await s.append('c', text('1'));
  await s.append('c', text('2'));
  await s.append('c', text('3'));
  await s.append('c', text('4'));
  const read = await s.read(['c'], first.token, 10);
  assert.equal(read.gap, true);
  assert.deepEqual(read.messages.map((m) => m.data.toString()), ['3', '4']);
  assert.equal(s.stats().evicted, 2);
  assert.equal(s.stats().bufferBytes, 2);
  await s.close();
});

test('expired messages are dropped, counted, and a gap; an idle empty channel is forgotten', async () => {
  const s = store({ messageTtl: 0.05 });
  const before = await s.head();
  const first = await s.append('t', text('old'));
  await new Promise((resolve) => setTimeout(resolve, 80));
  const read = await s.read(['t'], null, 10);
  assert.deepEqual(read.messages, []);
  assert.equal(s.stats().expired, 1);
  assert.equal(await s.info('t'), null, 'no messages and nobody holding it: forgotten');
  const behind = await s.read(['t'], before, 10);
  assert.equal(behind.gap, true, 'a position behind messages of a forgotten channel is told of the gap');
  assert.equal((await s.read(['t'], first.token, 10)).gap, false, 'a client that got the message missed nothing');
  await s.close();
});

test('a token this store never issued is a gap; a future-looking one too', async () => {
  const s = store();
  await s.append('x', text('1'));
  for (const position of ['made-up', '0-1', 'zz-99999999']) {
    const read = await s.read(['x'], position, 10);
    assert.equal(read.gap, true, position);
    assert.equal(read.messages.length, 1);
  }
  const head = await s.head();
  const [epoch] = head.split('-');
  const future = await s.read(['x'], `${epoch}-999`, 10);
  assert.equal(future.gap, true);
  await s.close();
});

test('touch respects the channel limit; held channels stay; released ones go', async () => {
  let heldNow = true;
  const s = store({ maxChannels: 2, isHeld: () => heldNow });
  assert.equal(await s.touch(['a', 'b']), true);
  assert.equal(await s.touch(['c']), false);
  assert.equal(s.stats().channels, 2);
  const info = await s.info('a');
  assert.ok(info !== null && info.requested !== undefined && info.messages === 0);
  await assert.rejects(s.append('c', text('x')), /at most 2 channels/);
  heldNow = false;
  s.released('a');
  assert.equal(s.stats().channels, 1);
  await s.close();
});

test('delete drops a channel and tells watchers', async () => {
  const s = store();
  const deleted: string[] = [];
  const seen: string[] = [];
  const unwatch = s.watch({ message: (m) => seen.push(m.data.toString()), deleted: (c) => deleted.push(c) });
  await s.append('d', text('x'));
  assert.equal(await s.delete('d'), true);
  assert.equal(await s.delete('d'), false);
  assert.deepEqual(deleted, ['d']);
  assert.deepEqual(seen, ['x']);
  assert.equal(s.stats().bufferBytes, 0);
  unwatch();
  await s.append('d', text('y'));
  assert.deepEqual(seen, ['x']);
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

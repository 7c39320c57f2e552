// lib/batch-answers.ts without the network: which reads share an answer, and for how long.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBatchAnswers } from '../lib/batch-answers';
import { RecentEncodings } from '../lib/encodings';
import { createMemoryStore } from '../lib/stores/memory/store';
import type { StoredMessage } from '../lib/stores/store';

const SHARED = ['Access-Control-Allow-Origin', '*'];

async function setUp() {
  const store = createMemoryStore({ buffer: 1000, messageTtl: 3600, maxChannels: 1000, maxBufferBytes: 1 << 20, isHeld: () => false });
  const encodings = new RecentEncodings(SHARED, 1 << 20);
  const answerOf = createBatchAnswers((message) => encodings.get(message), SHARED);
  const text = (data: string) => ({ data: Buffer.from(data), contentType: 'text/plain' });
  for (const [channel, data] of [['a', 'a0'], ['b', 'b-between'], ['c', 'c-between'], ['a', 'a1']] as const) await store.append(channel, text(data));
  const read = async (channels: string[]) => (await store.read(channels, null, 1000)).messages;
  return { store, answerOf, read };
}

function dataOf(body: string | Buffer): string[] {
  return (JSON.parse(body.toString()) as { messages: { data: string }[] }).messages.map((m) => m.data);
}

test('one read of the same channels between the same messages: one answer, built once', async () => {
  const { answerOf, read } = await setUp();
  const ab = await read(['a', 'b']);
  const first = answerOf(['a', 'b'], ab, false);
  assert.equal(answerOf(['a', 'b'], [...ab], false), first);
  assert.deepEqual(dataOf(first.body), ['a0', 'b-between', 'a1']);
});

test('another channel list, gap flag or count between the same two messages is another answer', async () => {
  const { answerOf, read } = await setUp();
  const ab = answerOf(['a', 'b'], await read(['a', 'b']), false);
  const ac = answerOf(['a', 'c'], await read(['a', 'c']), false);
  assert.notEqual(ac, ab);
  assert.deepEqual(dataOf(ac.body), ['a0', 'c-between', 'a1']);
  const gap = answerOf(['a', 'b'], await read(['a', 'b']), true);
  assert.notEqual(gap, ab);
  assert.equal(JSON.parse(gap.body.toString()).gap, true);
  const abc = await read(['a', 'b', 'c']);
  const fewer = abc.filter((m: StoredMessage) => m.channel !== 'c');
  assert.notEqual(answerOf(['a', 'b', 'c'], fewer, false), answerOf(['a', 'b', 'c'], abc, false));
});

test('answers are kept until the end of the turn only', async () => {
  const { answerOf, read } = await setUp();
  const ab = await read(['a', 'b']);
  const first = answerOf(['a', 'b'], ab, false);
  await new Promise((resolve) => setImmediate(resolve));
  const later = answerOf(['a', 'b'], ab, false);
  assert.notEqual(later, first);
  assert.equal(later.body, first.body);
});

test("one message's answer is the one its encoding keeps, past the end of the turn", async () => {
  const { answerOf, read } = await setUp();
  const [one] = await read(['c']);
  assert.ok(one !== undefined);
  const first = answerOf(['c'], [one], false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answerOf(['c'], [one], false), first);
  assert.deepEqual(dataOf(first.body), [one.data.toString()]);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GROUP_LIMIT, createCoalescer } from '../lib/stores/redis/coalesce';
import { type AppendResult, type MessageInput, type StoredMessage, StoreUnavailableError } from '../lib/stores/store';
import { request } from './support/http';
import { commandCalls, startRedisHoldpush, statsClient } from './support/redis-repoll';
import { useRedisStores } from './support/redis-stores';
import { waitFor } from './support/wait';

// One-message publishes of a channel that meet on their way to Redis go as one script call
// (lib/stores/redis/coalesce.ts); each publisher still gets its own answer.

function input(text: string): MessageInput {
  return { data: Buffer.from(text), contentType: 'text/plain' };
}

/** An append of a group, answered when the test says so. */
interface Call {
  readonly channel: string;
  readonly inputs: readonly MessageInput[];
  answer(): void;
  fail(error: Error): void;
}

function recorder(): { calls: Call[]; coalescer: ReturnType<typeof createCoalescer> } {
  const calls: Call[] = [];
  let seq = 0;
  const coalescer = createCoalescer(
    (channel, inputs) =>
      new Promise<readonly AppendResult[]>((resolve, reject) => {
        calls.push({
          channel,
          inputs,
          answer: () =>
            resolve(
              inputs.map((one) => {
                seq += 1;
                const message: StoredMessage = { channel, token: `t-${seq}`, id: `i-${seq}`, time: 0, contentType: one.contentType, event: undefined, data: one.data };
                return { message, info: { messages: seq, lastMessageId: message.id, requested: undefined } };
              }),
            ),
          fail: reject,
        });
      }),
  );
  return { calls, coalescer };
}

const texts = (call: Call | undefined) => (call === undefined ? [] : call.inputs.map((one) => one.data.toString()));

describe('coalescer (no network)', { timeout: 10000 }, () => {
  test('publishes of one turn go together; those that come while it is on its way go as the next call, in order', async () => {
    const { calls, coalescer } = recorder();
    const first = [coalescer.append('a', input('1')), coalescer.append('a', input('2'))];
    const other = coalescer.append('b', input('x'));
    await waitFor(() => calls.length === 2, 5000, 'both channels sent');
    assert.deepEqual(calls.map((call) => [call.channel, texts(call)]), [['a', ['1', '2']], ['b', ['x']]]);
    const later = [coalescer.append('a', input('3')), coalescer.append('a', input('4')), coalescer.append('a', input('5'))];
    await Promise.resolve();
    assert.equal(calls.length, 2, 'nothing more goes while a call of the channel is on its way');
    calls[0]?.answer();
    const answers = await Promise.all(first);
    assert.deepEqual(answers.map((a) => a.message.data.toString()), ['1', '2'], 'each its own answer');
    assert.notEqual(answers[0]?.message.id, answers[1]?.message.id);
    await waitFor(() => calls.length === 3, 5000, 'the waiting ones sent');
    assert.deepEqual(texts(calls[2]), ['3', '4', '5']);
    calls[2]?.answer();
    calls[1]?.answer();
    assert.deepEqual((await Promise.all(later)).map((a) => a.message.data.toString()), ['3', '4', '5']);
    assert.equal((await other).message.channel, 'b');
  });

  test("a failed call fails each of its publishes; the next group goes all the same", async () => {
    const { calls, coalescer } = recorder();
    const doomed = [coalescer.append('a', input('1')), coalescer.append('a', input('2'))];
    await waitFor(() => calls.length === 1, 5000, 'sent');
    const next = coalescer.append('a', input('3'));
    const error = new StoreUnavailableError('store_unavailable', 'gone');
    calls[0]?.fail(error);
    for (const one of doomed) await assert.rejects(one, (thrown) => thrown === error);
    await waitFor(() => calls.length === 2, 5000, 'the next group sent');
    calls[1]?.answer();
    assert.equal((await next).message.data.toString(), '3');
  });

  test(`a call carries at most ${GROUP_LIMIT} publishes`, async () => {
    const { calls, coalescer } = recorder();
    const all = Array.from({ length: GROUP_LIMIT + 3 }, (_, i) => coalescer.append('a', input(String(i))));
    await waitFor(() => calls.length === 1, 5000, 'sent');
    assert.equal(calls[0]?.inputs.length, GROUP_LIMIT);
    calls[0]?.answer();
    await waitFor(() => calls.length === 2, 5000, 'the rest sent');
    assert.deepEqual(texts(calls[1]), [String(GROUP_LIMIT), String(GROUP_LIMIT + 1), String(GROUP_LIMIT + 2)]);
    calls[1]?.answer();
    assert.deepEqual((await Promise.all(all)).map((a) => a.message.data.toString()), all.map((_, i) => String(i)));
  });
});

describe('redis store: concurrent publishes of a channel', { timeout: 20000 }, () => {
  const stores = useRedisStores({ buffer: 10, commandTimeout: 2000 });
  let prefixCount = 0;

  test('one script and one event for a group; each publish its own id and info; order kept; the other server hears them in one turn', async () => {
    const prefix = `c${++prefixCount}:`;
    const a = stores.make({}, prefix);
    const b = stores.make({}, prefix);
    await Promise.all([a.ready(), b.ready()]);
    const heard: { body: string; turn: number }[] = [];
    let turn = 0;
    const tick = setInterval(() => (turn += 1), 0);
    b.watch({ message: (message) => heard.push({ body: message.data.toString(), turn }), deleted: () => undefined });
    await a.appendWithInfo('news', input('first'));
    await waitFor(() => heard.length === 1, 5000, 'b heard the first');
    const stats = await statsClient(stores.url);
    try {
      const before = await commandCalls(stats);
      const count = 30;
      const results = await Promise.all(Array.from({ length: count }, (_, i) => a.appendWithInfo('news', input(`m${i}`))));
      const later = await commandCalls(stats);
      const delta = (name: string) => (later.get(name) ?? 0) - (before.get(name) ?? 0);
      assert.equal(delta('xadd'), count, 'every publish stored');
      assert.equal(delta('publish'), 1, 'one event for the group');
      // XLEN runs once per channel in an append script (the clock's scripts run none): one script for the group.
      assert.equal(delta('xlen'), 1, 'one append script for the group');
      assert.deepEqual(results.map((r) => r.message.data.toString()), results.map((_, i) => `m${i}`), 'each its own message');
      const seqs = results.map((r) => Number(r.message.token.slice(r.message.token.lastIndexOf('-') + 1)));
      assert.deepEqual(seqs, seqs.map((_, i) => (seqs[0] as number) + i), 'in the order they were published, one after another');
      // The buffer holds 10: the first publishes' answers count the channel growing to it, the rest at it.
      assert.deepEqual(results.map((r) => r.info.messages), results.map((_, i) => Math.min(10, i + 2)));
      assert.deepEqual(results.map((r) => r.info.lastMessageId), results.map((r) => r.message.id));
      await waitFor(() => heard.length === count + 1, 5000, 'b heard them all');
      assert.deepEqual(heard.slice(1).map((h) => h.body), results.map((r) => r.message.data.toString()), 'b heard them in order');
      assert.equal(new Set(heard.slice(1).map((h) => h.turn)).size, 1, 'b heard the group in one turn');
      const read = await b.read(['news'], results[19]?.message.token ?? null, 100);
      assert.deepEqual(read.messages.map((m) => m.data.toString()), results.slice(20).map((r) => r.message.data.toString()));
      assert.equal(read.gap, false);
      // The group's trim to the buffer reached the other server with the group: behind it is a gap.
      const behind = await b.read(['news'], results[5]?.message.token ?? null, 100);
      assert.equal(behind.gap, true, 'what the trim took is a gap');
      assert.deepEqual(behind.messages.map((m) => m.data.toString()), results.slice(20).map((r) => r.message.data.toString()));
    } finally {
      clearInterval(tick);
      await (stats as { close?(): Promise<unknown> }).close?.();
    }
  });

  test('a group to a new channel past the channel limit: every publish of it is refused, none stored', async () => {
    const prefix = `c${++prefixCount}:`;
    const store = stores.make({ maxChannels: 1 }, prefix);
    await store.ready();
    await store.appendWithInfo('only', input('x'));
    const refused = await Promise.allSettled([store.appendWithInfo('more', input('1')), store.appendWithInfo('more', input('2'))]);
    for (const one of refused) {
      assert.equal(one.status, 'rejected');
      assert.equal((one as PromiseRejectedResult).reason.code, 'too_many_channels');
    }
    assert.equal(await store.info('more'), null, 'nothing stored');
    assert.equal((await store.appendWithInfo('only', input('y'))).message.data.toString(), 'y', 'the existing channel still takes publishes');
  });

  test('concurrent HTTP publishes with idempotency keys: each answered with its own id, and a repeat replays it', async () => {
    const prefix = `c${++prefixCount}:`;
    const server = await startRedisHoldpush(stores.url, prefix);
    try {
      const json = { Accept: 'application/json' };
      const publish = (i: number) => request(`${server.url}/pub/room`, { method: 'POST', body: `p${i}`, headers: { ...json, 'Idempotency-Key': `key-${i}` } });
      const first = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(i)));
      // 202: published, no subscriber held it (docs/protocol.md).
      for (const reply of first) assert.equal(reply.status, 202, reply.text);
      const ids = first.map((reply) => (reply.json() as { last_message_id: string }).last_message_id);
      assert.equal(new Set(ids).size, 20, 'twenty ids');
      const again = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(i)));
      assert.deepEqual(again.map((reply) => [reply.status, (reply.json() as { last_message_id: string }).last_message_id]), ids.map((id) => [202, id]), 'the repeats replay each its own answer');
      const info = (await request(`${server.url}/pub/room`, { headers: json })).json() as { messages: number };
      assert.equal(info.messages, 20, 'each stored once');
    } finally {
      await server.close();
    }
  });
});

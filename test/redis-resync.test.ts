import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { EventOrder, HOLE_WAIT_MS } from '../lib/stores/redis/order';
import { Resync, type ResyncSource } from '../lib/stores/redis/resync';
import type { ReadResult, StoredMessage } from '../lib/stores/store';
import { Watchers } from '../lib/stores/watchers';

// The Redis store's catch-up after its event stream reconnects, as a unit: Redis is a fake that
// holds one sequence of messages, read by position as the store's read script does.

function message(epoch: string, seq: number, channel = 'w'): StoredMessage {
  const token = `${epoch}-1000-${seq}`;
  return { channel, token, id: `1:${token}`, time: 1000, contentType: 'text/plain', event: undefined, data: Buffer.from(`${epoch}${seq}`) };
}

/** A Redis of one epoch at a time; `reads` writes down every read's channels and position. */
class FakeRedis implements ResyncSource {
  epoch = 'e';
  messages: StoredMessage[] = [];
  held: () => string[] = () => ['w'];
  up = true;
  reachable = true;
  readonly reads: { channels: string[]; after: string | null }[] = [];

  publish(seq: number, channel = 'w'): StoredMessage {
    const made = message(this.epoch, seq, channel);
    this.messages.push(made);
    return made;
  }

  async head(): Promise<{ epoch: string; seq: number }> {
    if (!this.reachable) throw new Error('connection refused');
    const last = this.messages[this.messages.length - 1];
    return { epoch: this.epoch, seq: last === undefined ? 0 : Number(last.token.split('-')[2]) };
  }

  async read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult> {
    this.reads.push({ channels: [...channels], after });
    const at = after === null ? 0 : Number(after.split('-')[2]);
    const found = this.messages.filter((m) => channels.includes(m.channel) && Number(m.token.split('-')[2]) > at).slice(0, limit);
    return { messages: found, gap: false, head: found[found.length - 1]?.token ?? after ?? '', more: false };
  }

  connected(): boolean {
    return this.up;
  }
}

function setUp(): { redis: FakeRedis; order: EventOrder; resync: Resync; told: string[] } {
  const watchers = new Watchers();
  const told: string[] = [];
  watchers.add({ message: (m) => told.push(m.data.toString()), deleted: () => undefined });
  const redis = new FakeRedis();
  const order = new EventOrder(watchers);
  return { redis, order, resync: new Resync(order, redis), told };
}

/** Offers a message as the event stream brings it. */
function stream(order: EventOrder, m: StoredMessage): void {
  order.offer(m.token.split('-')[0] as string, Number(m.token.split('-')[2]), m);
}

/** A store that was in step and heard messages 1 to `count` of channel w, then lost its event stream. */
async function awayAfter(count: number): Promise<ReturnType<typeof setUp>> {
  const made = setUp();
  await made.resync.run();
  for (let seq = 1; seq <= count; seq++) stream(made.order, made.redis.publish(seq));
  made.resync.down();
  return made;
}

test('at the start the head sets the count: the next message is the one after it; nothing is read', async (t: TestContext) => {
  t.mock.timers.enable(['setTimeout']);
  const { redis, order, resync, told } = setUp();
  for (let seq = 1; seq <= 5; seq++) redis.publish(seq);
  await resync.run();
  assert.deepEqual(redis.reads, []);
  stream(order, redis.publish(7));
  assert.deepEqual(told, [], '7 waits for 6');
  t.mock.timers.tick(HOLE_WAIT_MS);
  assert.deepEqual(told, ['e7'], 'until the hole has waited its time');
});

test('after the stream went away, held channels hear what they missed, from the last message heard, once each', async () => {
  const { redis, order, resync, told } = await awayAfter(1);
  redis.publish(2);
  redis.publish(3, 'not-held');
  redis.publish(4);
  await resync.run();
  assert.deepEqual(redis.reads, [{ channels: ['w'], after: message('e', 1).token }]);
  assert.deepEqual(told, ['e1', 'e2', 'e4']);
  stream(order, redis.messages[3] as StoredMessage);
  stream(order, redis.publish(5));
  assert.deepEqual(told, ['e1', 'e2', 'e4', 'e5'], 'what the stream brings again is not told twice; in step again');
});

test('held channels are read 16 at a time', async () => {
  const { redis, resync } = await awayAfter(0);
  redis.held = () => Array.from({ length: 20 }, (_, i) => `c${i}`);
  await resync.run();
  assert.deepEqual(redis.reads.map((read) => read.channels.length), [16, 4]);
});

test('Redis came back wiped: the catch-up reads the new sequence from its start', async () => {
  const { redis, resync, told } = await awayAfter(2);
  redis.epoch = 'f';
  redis.messages = [];
  redis.publish(1);
  redis.publish(2);
  redis.publish(3);
  await resync.run();
  assert.deepEqual(redis.reads, [{ channels: ['w'], after: null }]);
  assert.deepEqual(told, ['e1', 'e2', 'f1', 'f2', 'f3']);
});

test('a message past the head the catch-up saw is left to the event stream, which brings it in order', async () => {
  const { redis, order, resync, told } = await awayAfter(0);
  redis.publish(1);
  const head = redis.head.bind(redis);
  // The head is taken before the read; a publish comes between them.
  redis.head = async () => {
    const at = await head();
    redis.publish(2);
    return at;
  };
  await resync.run();
  assert.deepEqual(told, ['e1']);
  stream(order, redis.messages[1] as StoredMessage);
  assert.deepEqual(told, ['e1', 'e2']);
});

test('the stream gone again during the catch-up: the order waits for the next reconnect', async () => {
  const { redis, order, resync, told } = setUp();
  redis.up = false;
  await resync.run();
  stream(order, redis.publish(3));
  stream(order, redis.publish(2));
  assert.deepEqual(told, ['e3', 'e2'], 'not in step: told as they come');
});

test('Redis unreachable during the catch-up: nothing is told, and the next run catches up', async () => {
  const { redis, resync, told } = await awayAfter(1);
  redis.publish(2);
  redis.reachable = false;
  await resync.run();
  assert.deepEqual(told, ['e1']);
  redis.reachable = true;
  await resync.run();
  assert.deepEqual(told, ['e1', 'e2']);
});

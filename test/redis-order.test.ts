import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventOrder, HOLE_WAIT_MS } from '../lib/stores/redis/order';
import type { StoredMessage } from '../lib/stores/store';
import { Watchers } from '../lib/stores/watchers';

// The Redis store's wake-up order as a unit: no Redis, the hole's timer under mock timers.

function message(epoch: string, seq: number, from = 'stream'): StoredMessage {
  const token = `${epoch}-1000-${seq}`;
  return { channel: 'c', token, id: `1:${token}`, time: 1000, contentType: 'text/plain', event: undefined, data: Buffer.from(`${seq} from ${from}`) };
}

/** An order whose watcher writes down what it hears, as "<seq> from <where>". */
function recorded(): { order: EventOrder; told: string[] } {
  const watchers = new Watchers();
  const told: string[] = [];
  watchers.add({ message: (m) => told.push(m.data.toString()), deleted: () => undefined });
  return { order: new EventOrder(watchers), told };
}

/** An order in step with a sequence whose head is `head`, as a resync leaves it. */
function inStep(head: number, epoch = 'e'): { order: EventOrder; told: string[] } {
  const made = recorded();
  made.order.switchEpoch(epoch);
  made.order.resume(head);
  return made;
}

test('in step, messages are told in sequence order and each once, whatever order they come in', () => {
  const { order, told } = inStep(0);
  order.offer('e', 2, message('e', 2));
  assert.deepEqual(told, [], 'the second waits for the first');
  order.offer('e', 1, message('e', 1));
  order.offer('e', 2, message('e', 2, 'again'));
  order.offer('e', 3, message('e', 3));
  assert.deepEqual(told, ['1 from stream', '2 from stream', '3 from stream']);
});

test('a message that does not come in time is skipped once the hole has waited its time', (t) => {
  t.mock.timers.enable(['setTimeout']);
  const { order, told } = inStep(0);
  order.offer('e', 2, message('e', 2));
  order.offer('e', 3, message('e', 3));
  t.mock.timers.tick(HOLE_WAIT_MS - 1);
  assert.deepEqual(told, []);
  t.mock.timers.tick(1);
  assert.deepEqual(told, ['2 from stream', '3 from stream']);
  order.offer('e', 1, message('e', 1, 'late'));
  assert.deepEqual(told, ['2 from stream', '3 from stream', '1 from late'], 'late, but told');
  order.offer('e', 4, message('e', 4));
  assert.deepEqual(told.length, 4, 'after the skip the count goes on from the last told');
});

test('an append settles once its message was told, with the object the watchers saw', async () => {
  const { order, told } = inStep(0);
  const local = message('e', 1, 'append');
  assert.equal(await order.appended('e', 1, local), local);
  order.offer('e', 1, message('e', 1));
  const remote = message('e', 2);
  order.offer('e', 2, remote);
  assert.equal(await order.appended('e', 2, message('e', 2, 'append')), remote, 'the stream told it first: its object comes back');
  let settled = false;
  const waiting = order.appended('e', 4, message('e', 4, 'append')).finally(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'message 3 has not been told');
  order.offer('e', 3, message('e', 3));
  assert.equal((await waiting).data.toString(), '4 from append');
  assert.deepEqual(told, ['1 from append', '2 from stream', '3 from stream', '4 from append']);
});

test('an append of a new epoch (Redis wiped) is not taken for the message of the old one with its number', async () => {
  const { order, told } = inStep(0);
  order.offer('e', 1, message('e', 1));
  const local = message('f', 1, 'append');
  assert.equal(await order.appended('f', 1, local), local);
  assert.deepEqual(told, ['1 from stream', '1 from append']);
});

test('not in step (before the first head, or the stream away), whatever comes is told at once', () => {
  const { order, told } = recorded();
  order.offer('e', 5, message('e', 5));
  order.offer('e', 3, message('e', 3));
  order.offer('e', 5, message('e', 5, 'again'));
  assert.deepEqual(told, ['5 from stream', '3 from stream']);
});

test('pause tells what waits and returns where the stream stood; a new epoch starts a new count', () => {
  const { order, told } = inStep(0);
  order.offer('e', 1, message('e', 1));
  order.offer('e', 3, message('e', 3));
  assert.deepEqual(order.pause(), { epoch: 'e', after: message('e', 3).token });
  assert.deepEqual(told, ['1 from stream', '3 from stream']);
  assert.equal(order.pause(), undefined, 'not in step: nothing to resume from');
  order.switchEpoch('f');
  order.resume(0);
  order.offer('f', 1, message('f', 1));
  assert.deepEqual(told.slice(2), ['1 from stream'], 'seq 1 again, of a new sequence, is no duplicate');
});

test('a message of another epoch while in step (Redis wiped) restarts the count at its number', () => {
  const { order, told } = inStep(10);
  order.offer('f', 1, message('f', 1));
  order.offer('f', 3, message('f', 3));
  order.offer('f', 2, message('f', 2));
  assert.deepEqual(told, ['1 from stream', '2 from stream', '3 from stream']);
  assert.equal(order.epoch, 'f');
});

test('close settles waiting appends and tells nothing more', async (t) => {
  t.mock.timers.enable(['setTimeout']);
  const { order, told } = inStep(0);
  const local = message('e', 2, 'append');
  const waiting = order.appended('e', 2, local);
  order.close();
  assert.equal(await waiting, local);
  t.mock.timers.tick(HOLE_WAIT_MS);
  order.offer('e', 1, message('e', 1));
  assert.deepEqual(told, []);
});

/** The store contract: one set of tests of the MessageStore interface, run against every store. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AppendResult, type MessageStore, type StoreLimits, type StoredMessage, StoreUnavailableError } from '../../lib/stores/store';
import { eventually, waitFor } from './wait';


/** How the contract gets stores of one kind: each test makes its own, with its own channels. */
export interface StoreFixture {
  /** A new store, ready to serve; the fixture closes it in `close`. */
  make(limits: StoreLimits): Promise<MessageStore>;
  close(): Promise<void>;
}

const DEFAULTS: StoreLimits = { buffer: 100, messageTtl: 60, maxChannels: 1000, isHeld: () => false };

function input(text: string, event?: string) {
  return { data: Buffer.from(text), contentType: 'text/plain', event };
}

function batched(channel: string, text: string, event?: string) {
  return { channel, ...input(text, event) };
}

function bodies(messages: readonly StoredMessage[]): string[] {
  return messages.map((message) => message.data.toString());
}

function tokens(messages: readonly StoredMessage[]): string[] {
  return messages.map((message) => message.token);
}

/** Runs the contract against the stores `setup` makes (it runs once, before the first test). */
export function storeContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`store contract: ${name}`, { timeout: 30000 }, () => {
    let fixture: StoreFixture;
    const make = (limits: Partial<StoreLimits> = {}) => fixture.make({ ...DEFAULTS, ...limits });

    before(async () => {
      fixture = await setup();
    });

    after(async () => {
      await fixture?.close();
    });

    test('append then read: tokens increase across channels, reads merge channels in publish order', async () => {
      const store = await make();
      const start = await store.head();
      const a1 = await store.append('a', input('a1'));
      const b1 = await store.append('b', input('b1'));
      const a2 = await store.append('a', input('a2'));
      for (const message of [a1, b1, a2]) {
        assert.equal(message.id, `${Math.floor(message.time / 1000)}:${message.token}`);
        assert.equal(message.contentType, 'text/plain');
        assert.equal(message.event, undefined);
      }
      assert.deepEqual([a1.channel, b1.channel, a2.channel], ['a', 'b', 'a']);
      assert.ok(store.follows(b1.token, a1.token) && store.follows(a2.token, b1.token));
      assert.ok(!store.follows(a1.token, a2.token) && !store.follows(a1.token, a1.token));

      const all = await store.read(['b', 'a'], null, 10);
      assert.deepEqual(tokens(all.messages), [a1.token, b1.token, a2.token]);
      assert.deepEqual({ gap: all.gap, more: all.more, head: all.head }, { gap: false, more: false, head: a2.token });
      const fromStart = await store.read(['a', 'b'], start, 10);
      assert.deepEqual(bodies(fromStart.messages), ['a1', 'b1', 'a2']);
      assert.equal(fromStart.gap, false);
      assert.deepEqual(bodies((await store.read(['a', 'b'], a1.token, 10)).messages), ['b1', 'a2']);
      assert.deepEqual(bodies((await store.read(['a'], a1.token, 10)).messages), ['a2']);

      const limited = await store.read(['a', 'b', 'nothing'], null, 2);
      assert.deepEqual(bodies(limited.messages), ['a1', 'b1']);
      assert.deepEqual({ more: limited.more, head: limited.head }, { more: true, head: b1.token });
      const none = await store.read(['a', 'b'], a2.token, 10);
      assert.deepEqual(none.messages, []);
      assert.equal(none.head, await store.head());
    });

    test('bodies, content types and event names come back byte for byte', async () => {
      const store = await make();
      const data = Buffer.from([0, 255, 10, 13, 0x80, 0x7b, 0x22]);
      const sent = await store.append('bin', { data, contentType: 'application/octet-stream', event: 'tick' });
      const [read] = (await store.read(['bin'], null, 10)).messages;
      assert.ok(read !== undefined && Buffer.isBuffer(read.data));
      assert.deepEqual(read.data, data);
      assert.deepEqual([read.event, read.contentType, read.token, read.time, read.id], ['tick', 'application/octet-stream', sent.token, sent.time, sent.id]);
      const plain = await store.append('bin', input('x'));
      assert.equal((await store.read(['bin'], sent.token, 1)).messages[0]?.event, undefined);
      assert.equal(plain.event, undefined);
    });

    test('appendMany: in the given order across channels, tokens increasing; watchers hear each before it settles, as the object it returns', async () => {
      const store = await make();
      const start = await store.head();
      const heard: StoredMessage[] = [];
      store.watch({ message: (message) => heard.push(message), deleted: () => undefined });
      const before = await store.append('p', input('before'));
      const batch = await store.appendMany([batched('p', 'p1'), batched('q', 'q1', 'ev'), batched('p', 'p2')]);
      assert.deepEqual(
        batch.map((message) => [message.channel, message.data.toString(), message.event, message.contentType]),
        [
          ['p', 'p1', undefined, 'text/plain'],
          ['q', 'q1', 'ev', 'text/plain'],
          ['p', 'p2', undefined, 'text/plain'],
        ],
      );
      for (const message of batch) assert.equal(message.id, `${Math.floor(message.time / 1000)}:${message.token}`);
      let previous = before;
      for (const message of batch) {
        assert.ok(store.follows(message.token, previous.token) && !store.follows(previous.token, message.token), message.data.toString());
        previous = message;
      }
      assert.equal(heard.length, 4, 'the single append and the three of the batch');
      batch.forEach((message, i) => assert.equal(heard[i + 1], message, `the very object appendMany returned, at ${i}`));

      const read = await store.read(['q', 'p'], start, 10);
      assert.deepEqual(tokens(read.messages), tokens([before, ...batch]));
      assert.equal(read.gap, false);
      assert.deepEqual(bodies((await store.read(['p'], before.token, 10)).messages), ['p1', 'p2']);
      const next = await store.append('q', input('after'));
      assert.ok(store.follows(next.token, batch[2]!.token));
    });

    test('appendMany is all or nothing: a batch that would pass the channel limit leaves nothing behind; a channel named twice counts once', async () => {
      const store = await make({ maxChannels: 3 });
      await store.append('a', input('a1'));
      const start = await store.head();
      const heard: string[] = [];
      store.watch({ message: (message) => heard.push(message.data.toString()), deleted: () => undefined });
      const refused = (error: unknown) => error instanceof StoreUnavailableError && error.code === 'too_many_channels';
      await assert.rejects(store.appendMany([batched('a', 'a2'), batched('b', 'b0'), batched('c', 'c0'), batched('d', 'd0')]), refused);
      assert.deepEqual(heard, []);
      assert.deepEqual((await store.read(['a', 'b', 'c', 'd'], start, 10)).messages, []);
      assert.equal(await store.info('b'), null);

      const fits = await store.appendMany([batched('b', 'b1'), batched('c', 'c1'), batched('b', 'b2')]);
      assert.deepEqual(bodies(fits), ['b1', 'c1', 'b2']);
      assert.deepEqual(heard, ['b1', 'c1', 'b2']);
      await assert.rejects(store.appendMany([batched('a', 'a3'), batched('d', 'd1')]), refused);
      assert.deepEqual(bodies((await store.read(['a', 'b', 'c', 'd'], null, 10)).messages), ['a1', 'b1', 'c1', 'b2'], 'nothing of the refused batch, not even its message to a channel that exists');
      assert.deepEqual(heard, ['b1', 'c1', 'b2']);
    });

    test('the idempotency ledger: first, then pending or conflict; the settled answer replayed; a claim settled with null is free again', async () => {
      const { idempotency } = await make();
      const answer = { status: 200, headers: ['X-Example', '1'], body: '{"id":"1:x"}' };
      const first = await idempotency.claim('k', 'print', 60_000);
      assert.ok(first.kind === 'first', first.kind);
      assert.deepEqual(await idempotency.claim('k', 'print', 60_000), { kind: 'pending' });
      assert.deepEqual(await idempotency.claim('k', 'another', 60_000), { kind: 'conflict' });
      await idempotency.settle('k', `${first.ticket}-not`, answer, 60_000);
      assert.deepEqual(await idempotency.claim('k', 'print', 60_000), { kind: 'pending' }, 'a wrong ticket settles nothing');
      await idempotency.settle('k', first.ticket, answer, 60_000);
      assert.deepEqual(await idempotency.claim('k', 'print', 60_000), { kind: 'replay', answer });
      assert.deepEqual(await idempotency.claim('k', 'another', 60_000), { kind: 'conflict' });

      const failed = await idempotency.claim('k2', 'print', 60_000);
      assert.ok(failed.kind === 'first', failed.kind);
      await idempotency.settle('k2', failed.ticket, null, 60_000);
      assert.equal((await idempotency.claim('k2', 'another', 60_000)).kind, 'first');
    });

    test('the head is a position before the next message, with no gap', async () => {
      const store = await make();
      const head = await store.head();
      const empty = await store.read(['h'], head, 10);
      assert.deepEqual({ messages: empty.messages, gap: empty.gap, head: empty.head }, { messages: [], gap: false, head });
      const message = await store.append('h', input('next'));
      assert.ok(store.follows(message.token, head));
      const read = await store.read(['h'], head, 10);
      assert.deepEqual(tokens(read.messages), [message.token]);
      assert.equal(read.gap, false);
    });

    test('a position this store never issued is a gap, and the read starts from the oldest', async () => {
      const store = await make();
      const first = await store.append('n', input('first'));
      const head = await store.head();
      // The head with a sequence number the store has not reached yet.
      const future = head.replace(/\d+$/, '999999999');
      for (const stranger of ['made-up', 'garbage', '0-1', 'zz-1-1', future]) {
        const read = await store.read(['n'], stranger, 10);
        assert.equal(read.gap, true, stranger);
        assert.deepEqual(bodies(read.messages), ['first'], stranger);
      }
      // Every message follows a position of no epoch of this store's. (A future position of its
      // own epoch is left out: a store shared over the network cannot tell it from one issued
      // elsewhere that it has not heard of yet, so it compares the numbers.)
      for (const stranger of ['made-up', 'garbage', '0-1', 'zz-1-1']) assert.ok(store.follows(first.token, stranger), stranger);
      assert.equal((await store.read(['n'], head, 10)).gap, false);
    });

    test('trimming to the buffer: a gap for a reader behind it, not for one ahead; counted', async () => {
      const store = await make({ buffer: 3 });
      const start = await store.head();
      const sent: StoredMessage[] = [];
      for (let i = 1; i <= 5; i++) sent.push(await store.append('g', input(`m${i}`)));
      const behind = await store.read(['g'], start, 10);
      assert.equal(behind.gap, true);
      assert.deepEqual(bodies(behind.messages), ['m3', 'm4', 'm5']);
      assert.equal((await store.read(['g'], sent[0]!.token, 10)).gap, true, 'the first dropped message was not read');
      const atLastDropped = await store.read(['g'], sent[1]!.token, 10);
      assert.equal(atLastDropped.gap, false);
      assert.deepEqual(bodies(atLastDropped.messages), ['m3', 'm4', 'm5']);
      assert.equal((await store.read(['g'], null, 10)).gap, false, 'no position: from the oldest held, no gap');
      assert.equal((await store.info('g'))?.messages, 3);
      await eventually(() => store.stats(), (stats) => stats.evicted === 2 && stats.bufferBytes === 6, 5000, 'two evicted, six bytes held');
    });

    test('past its TTL a message is dropped: a gap, counted, and its empty channel forgotten', async () => {
      const store = await make({ messageTtl: 0.2 });
      const start = await store.head();
      const old = await store.append('t', input('old'));
      await waitFor(async () => (await store.read(['t'], start, 10)).messages.length === 0, 5000, 'the message to expire');
      await waitFor(async () => (await store.info('t')) === null, 5000, 'the empty channel to be forgotten');
      assert.equal((await store.read(['t'], start, 10)).gap, true, 'a reader before the expired message missed it');
      assert.equal((await store.read(['t'], old.token, 10)).gap, false, 'a reader that got it missed nothing');
      const fresh = await store.append('t', input('new'));
      const read = await store.read(['t'], start, 10);
      assert.equal(read.gap, true);
      assert.deepEqual(tokens(read.messages), [fresh.token]);
      const ahead = await store.read(['t'], old.token, 10);
      assert.equal(ahead.gap, false);
      assert.deepEqual(tokens(ahead.messages), [fresh.token]);
      await eventually(() => store.stats().expired, (expired) => expired >= 1, 5000, 'the expiry to be counted');
    });

    test('touch keeps to the channel limit; info tells of a channel and its last request', async () => {
      const store = await make({ maxChannels: 2, isHeld: () => true });
      assert.equal(await store.info('a'), null);
      assert.equal(await store.touch(['a', 'b']), true);
      assert.equal(await store.touch(['c']), false, 'a third channel passes the limit');
      assert.equal(await store.touch(['b', 'a']), true, 'channels that exist cost nothing');
      const touched = await store.info('a');
      assert.ok(touched !== null);
      assert.deepEqual({ messages: touched.messages, lastMessageId: touched.lastMessageId }, { messages: 0, lastMessageId: undefined });
      assert.ok(touched.requested !== undefined && Math.abs(touched.requested - Date.now()) < 60_000, `requested: ${touched.requested}`);
      await assert.rejects(store.append('c', input('x')), (error: unknown) => error instanceof StoreUnavailableError && error.code === 'too_many_channels');
      const message = await store.append('a', input('fits'));
      assert.deepEqual({ ...(await store.info('a')), requested: undefined }, { messages: 1, lastMessageId: message.id, requested: undefined });
      await eventually(() => store.stats().channels, (channels) => channels === 2, 5000, 'two channels counted');
    });

    test("appendWithInfo: the message as append's, and the info that info() tells just after, through trimming and a subscriber's request", async () => {
      const store = await make({ buffer: 2, maxChannels: 1, isHeld: () => true });
      const { appendWithInfo } = store;
      assert.ok(appendWithInfo !== undefined, 'every built-in store tells the info with the append');
      const first = await appendWithInfo('w', input('m1'));
      assert.deepEqual(first.info, { messages: 1, lastMessageId: first.message.id, requested: undefined });
      assert.deepEqual(first.info, await store.info('w'));
      assert.equal(await store.touch(['w']), true);
      const requested = (await store.info('w'))?.requested;
      assert.ok(requested !== undefined, 'the touch is told');
      for (let i = 2; i <= 4; i++) {
        const appended: AppendResult = await appendWithInfo('w', input(`m${i}`));
        assert.deepEqual(appended.info, { messages: Math.min(i, 2), lastMessageId: appended.message.id, requested }, `after m${i}`);
        assert.deepEqual(appended.info, await store.info('w'), `info() after m${i}`);
      }
      assert.deepEqual(bodies((await store.read(['w'], null, 10)).messages), ['m3', 'm4']);
      await assert.rejects(appendWithInfo('x', input('y')), (error: unknown) => error instanceof StoreUnavailableError && error.code === 'too_many_channels');
      assert.equal(await store.info('x'), null, 'a refused append makes no channel');
    });

    test('a channel nobody holds is forgotten, a held one is kept', async () => {
      const held = new Set(['kept', 'let-go']);
      const store = await make({ isHeld: (channel) => held.has(channel) });
      assert.equal(await store.touch(['kept', 'let-go', 'loose']), true);
      held.delete('let-go');
      store.released('let-go');
      // Forgetting 'loose' (touched with 'kept', in one call) is the store's upkeep done once more.
      await waitFor(async () => (await store.info('loose')) === null && (await store.info('let-go')) === null, 5000, 'loose and let-go to be forgotten');
      assert.notEqual(await store.info('kept'), null);
    });

    test('delete drops a channel, and watchers hear it before the delete settles', async () => {
      const store = await make();
      const deleted: string[] = [];
      store.watch({ message: () => undefined, deleted: (channel) => deleted.push(channel) });
      await store.append('d', input('x'));
      assert.equal(await store.delete('d'), true);
      assert.deepEqual(deleted, ['d']);
      assert.equal(await store.delete('d'), false);
      assert.equal(await store.info('d'), null);
      assert.deepEqual((await store.read(['d'], null, 10)).messages, []);
      await eventually(() => store.stats().bufferBytes, (bytes) => bytes === 0, 5000, 'no bytes held');
    });

    test('watchers hear an append before it settles, as the object it returns; unwatched, they hear no more', async () => {
      const store = await make();
      const heard: StoredMessage[] = [];
      const unwatch = store.watch({ message: (message) => heard.push(message), deleted: () => undefined });
      const message = await store.append('w', input('hi'));
      assert.equal(heard.length, 1);
      assert.equal(heard[0], message, 'the very object append returned');
      unwatch();
      await store.append('w', input('unheard'));
      assert.equal(heard.length, 1);
    });

    test('a watcher that throws does not stop the others, nor the append or delete', async () => {
      const store = await make();
      store.watch({
        message: () => {
          throw new Error('a failing watcher');
        },
        deleted: () => {
          throw new Error('a failing watcher');
        },
      });
      const heard: string[] = [];
      store.watch({ message: (message) => heard.push(message.data.toString()), deleted: (channel) => heard.push(`deleted ${channel}`) });
      await store.append('x', input('one'));
      await store.append('x', input('two'));
      assert.equal(await store.delete('x'), true);
      assert.deepEqual(heard, ['one', 'two', 'deleted x']);
    });
  });
}

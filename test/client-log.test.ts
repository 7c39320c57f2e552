/**
 * The shared connection's log (client/share/log.ts), without a browser: which messages a tab
 * that stands at a position takes from an answer, and what the leader can replay from the log.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type LoggedBatch, continuation, createStreamLog, samePosition } from '../client/share/log';
import type { Message } from '../client/types';

function msg(token: string, channel: string): Message {
  return { id: `1764090000:${token}`, channel, time: 1764090000000, contentType: 'text/plain', data: token, gap: false };
}

function batch(from: string | null, messages: Message[], channels: string[] = ['a', 'b']): LoggedBatch {
  return { from, to: messages.length ? (messages[messages.length - 1] as Message).id : from, channels, messages };
}

const data = (list: readonly Message[] | null): string[] | null => (list === null ? null : list.map((m) => m.data));

describe('samePosition', () => {
  test('a message id and its bare token are the same place; the time part does not decide', () => {
    assert.equal(samePosition('1764090000:k-1', 'k-1'), true);
    assert.equal(samePosition('1:k-1', '2:k-1'), true);
    assert.equal(samePosition('k-1', 'k-2'), false);
    assert.equal(samePosition(null, null), true);
    assert.equal(samePosition(null, 'k-1'), false);
    assert.equal(samePosition('k-1', null), false);
  });
});

describe('continuation: what a tab standing at a position takes from an answer', () => {
  const answer = batch('t0', [msg('t1', 'a'), msg('t2', 'b'), msg('t3', 'a')]);

  test('all of an answer that starts where it stands', () => {
    assert.deepEqual(data(continuation(answer, 't0')), ['t1', 't2', 't3']);
    assert.deepEqual(data(continuation(answer, '1764090000:t0')), ['t1', 't2', 't3']);
  });

  test('only what comes after it when the answer starts earlier (a new leader asked from an older place)', () => {
    assert.deepEqual(data(continuation(answer, '1764090000:t2')), ['t3']);
    assert.deepEqual(data(continuation(answer, 't3')), []);
  });

  test('nothing it can use when the answer does not pass where it stands', () => {
    assert.equal(continuation(answer, 't9'), null);
    assert.equal(continuation(answer, null), null);
    assert.deepEqual(data(continuation(batch(null, [msg('t1', 'a')]), null)), ['t1']);
  });
});

describe('the stream log', () => {
  test('chains answers; its head is where the last one ended', () => {
    const log = createStreamLog();
    assert.equal(log.head, undefined);
    log.add(batch('t0', [msg('t1', 'a'), msg('t2', 'b')]));
    log.add(batch('1764090000:t2', [msg('t3', 'a')]));
    assert.equal(log.head, '1764090000:t3');
    assert.deepEqual(data(log.after('t0', ['a'])), ['t1', 't3']);
    assert.deepEqual(data(log.after('t1', ['a', 'b'])), ['t2', 't3']);
    assert.deepEqual(data(log.after('1764090000:t2', ['b'])), []);
    assert.deepEqual(data(log.after('t3', ['a'])), []);
    assert.equal(log.after('t7', ['a']), null, 'a place it never saw');
  });

  test('an answer that does not start at the head begins a new chain', () => {
    const log = createStreamLog();
    log.add(batch('t0', [msg('t1', 'a')]));
    log.add(batch('t5', [msg('t6', 'a')]));
    assert.equal(log.after('t0', ['a']), null);
    assert.deepEqual(data(log.after('t5', ['a'])), ['t6']);
  });

  test('cannot replay a channel that an answer since did not ask for', () => {
    const log = createStreamLog();
    log.add(batch('t0', [msg('t1', 'a')], ['a']));
    log.add(batch('1764090000:t1', [msg('t2', 'a'), msg('t3', 'c')], ['a', 'c']));
    assert.equal(log.after('t0', ['c']), null, "'c' was not asked for between t0 and t1");
    assert.deepEqual(data(log.after('t1', ['c'])), ['t3']);
    assert.deepEqual(data(log.after('t0', ['a'])), ['t1', 't2']);
    assert.deepEqual(log.channels, ['a', 'c']);
  });

  test('an anchor names the head only while nothing else is known', () => {
    const log = createStreamLog();
    log.anchor(null);
    assert.equal(log.head, null);
    log.add(batch(null, [msg('t1', 'a')]));
    log.anchor('t9');
    assert.equal(log.head, '1764090000:t1');
  });

  test('keeps at most its bound of messages, dropping the oldest answers first', () => {
    const log = createStreamLog(4, 100);
    let from = 't0';
    for (let i = 1; i <= 6; i++) {
      log.add(batch(from, [msg(`t${i}`, 'a')]));
      from = `1764090000:t${i}`;
    }
    assert.equal(log.after('t0', ['a']), null, 'the oldest answers are gone');
    assert.deepEqual(data(log.after('t2', ['a'])), ['t3', 't4', 't5', 't6']);
  });
});

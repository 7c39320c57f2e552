/** The decision cache and the reading of the app's Cache-Control, without the network. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_CACHED_DECISIONS, MAX_CACHED_KEY_CHARS } from '../lib/auth/authorize';
import { cacheSeconds } from '../lib/auth/ask-app';
import { type Kept, createDecisionCache } from '../lib/auth/decision-cache';

/** A cache of strings whose `ask` answers `key` for `seconds`, counting its calls. */
function counting(limits: { maxEntries: number; maxKeyChars: number }, seconds = 60) {
  const cache = createDecisionCache<string>(limits);
  const asked: string[] = [];
  const decide = async (key: string): Promise<string> =>
    cache.decide(key, () => {
      asked.push(key);
      return Promise.resolve({ value: `answer ${key}`, seconds });
    });
  return { cache, asked, decide };
}

describe('the decision cache', () => {
  test('a kept answer comes back at once, without a promise and without asking', async () => {
    const { cache, asked, decide } = counting({ maxEntries: 10, maxKeyChars: 1000 });
    assert.equal(await decide('a'), 'answer a');
    const again = cache.decide('a', () => Promise.reject(new Error('not asked')));
    assert.equal(again, 'answer a');
    assert.deepEqual(asked, ['a']);
    assert.equal(cache.hits, 1);
  });

  test('identical questions at once share one ask; different ones do not', async () => {
    const cache = createDecisionCache<string>({ maxEntries: 10, maxKeyChars: 1000 });
    let calls = 0;
    let answer = (_kept: Kept<string>): void => undefined;
    const ask = () => {
      calls += 1;
      return new Promise<Kept<string>>((resolve) => {
        answer = resolve;
      });
    };
    const all = Array.from({ length: 1000 }, () => cache.decide('same', ask));
    assert.equal(calls, 1);
    answer({ value: 'shared', seconds: 0 });
    assert.deepEqual(new Set(await Promise.all(all)), new Set(['shared']));
    assert.equal(cache.hits, 999);
    // Kept for 0 seconds: the next one asks again.
    void cache.decide('same', ask);
    assert.equal(calls, 2);
    void cache.decide('other', ask);
    assert.equal(calls, 3);
  });

  test('an ask that rejects is not kept and does not block the next question', async () => {
    const cache = createDecisionCache<string>({ maxEntries: 10, maxKeyChars: 1000 });
    await assert.rejects(Promise.resolve(cache.decide('k', () => Promise.reject(new Error('boom')))), /boom/);
    assert.equal(await cache.decide('k', () => Promise.resolve({ value: 'fine', seconds: 60 })), 'fine');
  });

  test('past maxEntries the oldest answers go first', async () => {
    const { cache, asked, decide } = counting({ maxEntries: 3, maxKeyChars: 1000 });
    for (const key of ['a', 'b', 'c', 'd']) await decide(key);
    assert.equal(cache.size, 3);
    await decide('b');
    await decide('c');
    await decide('d');
    assert.deepEqual(asked, ['a', 'b', 'c', 'd']);
    await decide('a');
    assert.deepEqual(asked, ['a', 'b', 'c', 'd', 'a']);
    assert.equal(cache.size, 3);
  });

  test('past maxKeyChars the oldest go first; a key longer than the bound is never kept', async () => {
    const { cache, asked, decide } = counting({ maxEntries: 100, maxKeyChars: 25 });
    for (const key of ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)]) await decide(key);
    assert.equal(cache.size, 2);
    await decide('a'.repeat(10));
    assert.equal(asked.length, 4, 'the oldest was dropped');
    await decide('z'.repeat(26));
    await decide('z'.repeat(26));
    assert.equal(asked.length, 6);
  });

  test('holdpush\'s bounds: 10,000 decisions, 16 Mi characters of keys', async () => {
    assert.equal(MAX_CACHED_DECISIONS, 10_000);
    assert.equal(MAX_CACHED_KEY_CHARS, 16 * 1024 * 1024);
    const { cache, decide } = counting({ maxEntries: MAX_CACHED_DECISIONS, maxKeyChars: MAX_CACHED_KEY_CHARS });
    for (let i = 0; i < MAX_CACHED_DECISIONS + 500; i++) await decide(`subscribe\nGET\nnews\nsession=${i}\n`);
    assert.equal(cache.size, MAX_CACHED_DECISIONS);
  });
});

describe('the app\'s Cache-Control', () => {
  test('max-age=N keeps N seconds; no-store and no-cache keep nothing; anything else leaves --auth-cache', () => {
    const cases: [string | undefined, number | undefined][] = [
      [undefined, undefined],
      ['', undefined],
      ['private', undefined],
      ['max-age=30', 30],
      ['private, max-age=5', 5],
      ['MAX-AGE = "7"', 7],
      ['max-age=0', 0],
      ['no-store', 0],
      ['max-age=60, no-store', 0],
      ['no-cache', 0],
      ['max-age=abc', undefined],
      ['max-age=-1', undefined],
      ['s-maxage=5', undefined],
      ['max-age=99999999999999999999', 2147483648],
    ];
    for (const [header, seconds] of cases) assert.equal(cacheSeconds(header), seconds, String(header));
  });
});

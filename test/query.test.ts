// lib/http/query.ts: the walk over a query's text answers as URLSearchParams does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestQuery } from '../lib/http/query';

test('plain parameters, repeated names, names without a value, empty parts', () => {
  const query = new RequestQuery('a=1&&b&last_event_id=1733%3Aab&a=2&c=x=y');
  assert.equal(query.get('a'), '1');
  assert.equal(query.get('b'), '');
  assert.equal(query.get('last_event_id'), '1733:ab');
  assert.equal(query.get('c'), 'x=y');
  assert.equal(query.get('token'), null);
});

test('what needs decoding is decoded as URLSearchParams decodes it', () => {
  assert.equal(new RequestQuery('%74oken=a&token=b').get('token'), 'a');
  assert.equal(new RequestQuery('token=a+b').get('token'), 'a b');
  assert.equal(new RequestQuery('token=%zz%E2%82').get('token'), new URLSearchParams('token=%zz%E2%82').get('token'));
  assert.equal(new RequestQuery('?token=a').get('token'), 'a');
  assert.equal(new RequestQuery('uid=%C3%A9&x=1').toString(), 'uid=%C3%A9&x=1');
});

test('any text over an alphabet of the tricky characters: the same answer as URLSearchParams (20,000 cases)', () => {
  const alphabet = ['a', 'b', '=', '&', '%', '+', '?', '2', 'E', '8', '0', 'F', 'é', ' ', '%41', '%E2%82%AC', '%C3'];
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const length = random(14);
    for (let j = 0; j < length; j++) text += alphabet[random(alphabet.length)];
    for (const name of ['a', 'b', 'ab', 'A', '']) {
      assert.equal(new RequestQuery(text).get(name), new URLSearchParams(text).get(name), `${JSON.stringify(text)} get(${JSON.stringify(name)})`);
    }
  }
});

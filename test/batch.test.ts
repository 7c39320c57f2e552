import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, tokenOf } from './support/http';
import { held, publishMany, serve } from './support/servers';

const T = { timeout: 10_000 };
const JSON_TYPE = 'application/json; charset=utf-8';
const ACCEPT = { Accept: 'application/json' };

interface BatchMessage {
  id: string;
  channel: string;
  time: number;
  contentType: string;
  data: string;
  encoding?: string;
}

interface Batch {
  messages: BatchMessage[];
  last: string;
  gap: boolean;
}

test('every message after the position in one answer, with its fields', T, async (t) => {
  const s = await serve(t);
  const before = Date.now();
  const a = await s.holdpush.publish('news', 'hello', { contentType: 'text/markdown' });
  const b = await s.holdpush.publish('news', '{"x":1}', { contentType: 'application/json' });
  const after = Date.now();
  const reply = await request(`${s.url}/sub/news`, { headers: ACCEPT });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-type'], JSON_TYPE);
  assert.equal(reply.headers['cache-control'], 'no-store');
  assert.equal(reply.headers['content-length'], String(reply.body.length));
  assert.equal(reply.headers['x-holdpush-gap'], undefined);
  const body = reply.json() as Batch;
  assert.deepEqual(Object.keys(body), ['messages', 'last', 'gap']);
  assert.equal(body.gap, false);
  assert.equal(body.last, b.id);
  assert.equal(body.messages.length, 2);
  const [first, second] = body.messages as [BatchMessage, BatchMessage];
  assert.deepEqual(first, { id: a.id, channel: 'news', time: first.time, contentType: 'text/markdown', data: 'hello' });
  assert.deepEqual(second, { id: b.id, channel: 'news', time: second.time, contentType: 'application/json', data: '{"x":1}' });
  for (const message of body.messages) {
    assert.ok(Number.isInteger(message.time), 'time in whole milliseconds');
    assert.ok(message.time >= before && message.time <= after, `time ${message.time} in [${before}, ${after}]`);
    assert.equal(String(Math.floor(message.time / 1000)), message.id.split(':')[0]);
  }
  assert.ok(second.time >= first.time);
});

test('a batch starts after the position; last is a position for the next ask', T, async (t) => {
  const s = await serve(t, { holdTimeout: 0.2 });
  const ids = await publishMany(s, 'pos', 5);
  const fromSecond = (await request(`${s.url}/sub/pos`, { headers: { ...ACCEPT, 'If-None-Match': tokenOf(ids[1] as string) } })).json() as Batch;
  assert.deepEqual(fromSecond.messages.map((m) => m.data), ['m2', 'm3', 'm4']);
  // `last` is a message id, accepted as every kind of position.
  const viaQuery = await request(`${s.url}/sub/pos?last_event_id=${encodeURIComponent(fromSecond.last)}`, { headers: ACCEPT });
  assert.equal(viaQuery.status, 204);
  assert.equal(viaQuery.body.length, 0);
  assert.equal(viaQuery.headers.etag, tokenOf(ids[4] as string));
  assert.equal(viaQuery.headers['cache-control'], 'no-store');
});

test('up to 1000 messages per answer: 1500 published (buffer 2000) -> 1000 then 500', T, async (t) => {
  const s = await serve(t, { buffer: 2000, holdTimeout: 0.2 });
  const ids = await publishMany(s, 'bulk', 1500);
  const first = await request(`${s.url}/sub/bulk`, { headers: ACCEPT });
  assert.equal(first.status, 200);
  const one = first.json() as Batch;
  assert.equal(one.messages.length, 1000);
  assert.equal(one.last, ids[999]);
  assert.equal(one.gap, false);
  assert.deepEqual(one.messages.map((m) => m.data), Array.from({ length: 1000 }, (_, i) => `m${i}`));
  const second = await request(`${s.url}/sub/bulk`, { headers: { ...ACCEPT, 'If-None-Match': one.last } });
  const two = second.json() as Batch;
  assert.equal(two.messages.length, 500);
  assert.equal(two.last, ids[1499]);
  assert.deepEqual(two.messages.map((m) => m.id), ids.slice(1000));
  const third = await request(`${s.url}/sub/bulk`, { headers: { ...ACCEPT, 'If-None-Match': two.last } });
  assert.equal(third.status, 204);
});

test('messages of several channels, merged in publish order', T, async (t) => {
  const s = await serve(t);
  await s.holdpush.publish('b', 'b0');
  await s.holdpush.publish('a', 'a0');
  await s.holdpush.publish('c', 'not mine');
  await s.holdpush.publish('b', 'b1');
  const body = (await request(`${s.url}/sub/a,b`, { headers: ACCEPT })).json() as Batch;
  assert.deepEqual(body.messages.map((m) => [m.channel, m.data]), [['b', 'b0'], ['a', 'a0'], ['b', 'b1']]);
});

test('bytes that are not UTF-8 come as base64 with "encoding": "base64"', T, async (t) => {
  const s = await serve(t);
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
  await s.holdpush.publish('bin', bytes, { contentType: 'application/octet-stream' });
  await s.holdpush.publish('bin', 'héllo ✓ 😀');
  await s.holdpush.publish('bin', Buffer.from([0xe2, 0x82])); // a cut-off UTF-8 sequence
  const body = (await request(`${s.url}/sub/bin`, { headers: ACCEPT })).json() as Batch;
  const [raw, text, cut] = body.messages as [BatchMessage, BatchMessage, BatchMessage];
  assert.equal(raw.encoding, 'base64');
  assert.equal(raw.data, bytes.toString('base64'));
  assert.deepEqual(Buffer.from(raw.data, 'base64'), bytes);
  assert.equal(raw.contentType, 'application/octet-stream');
  assert.equal(text.encoding, undefined);
  assert.equal(text.data, 'héllo ✓ 😀');
  assert.ok(!('encoding' in text));
  assert.equal(cut.encoding, 'base64');
  assert.equal(cut.data, Buffer.from([0xe2, 0x82]).toString('base64'));
});

test('text that is not ASCII, in answers inline and past the 16 KiB written apart: Content-Length counts its bytes', T, async (t) => {
  const s = await serve(t);
  const text = 'héllo ✓ 😀 '.repeat(40);
  for (let i = 0; i < 60; i++) await s.holdpush.publish('utf', `${i} ${text}`);
  for (const after of [58, 0]) {
    const from = (await request(`${s.url}/sub/utf`, { headers: ACCEPT })).json() as Batch;
    const position = (from.messages[after] as BatchMessage).id;
    const reply = await request(`${s.url}/sub/utf?last_event_id=${encodeURIComponent(position)}`, { headers: ACCEPT });
    assert.equal(Number(reply.headers['content-length']), reply.body.length);
    const body = reply.json() as Batch;
    assert.deepEqual(body.messages.map((m) => m.data), Array.from({ length: 59 - after }, (_, i) => `${after + 1 + i} ${text}`));
  }
});

test('a leading byte order mark is kept, not eaten by the UTF-8 decoding', T, async (t) => {
  const s = await serve(t);
  const bytes = Buffer.from([0xef, 0xbb, 0xbf, 0x41]);
  await s.holdpush.publish('bom', bytes);
  const [message] = ((await request(`${s.url}/sub/bom`, { headers: ACCEPT })).json() as Batch).messages;
  assert.equal(message?.encoding, undefined);
  assert.deepEqual(Buffer.from(message?.data as string, 'utf8'), bytes);
});

test('held when there is nothing, then answered with the one message that came', T, async (t) => {
  const s = await serve(t);
  const [id] = await publishMany(s, 'wait', 1);
  const waiting = request(`${s.url}/sub/wait`, { headers: { ...ACCEPT, 'If-None-Match': tokenOf(id as string) } });
  await held(s, 1);
  assert.equal(s.holdpush.stats().held.longpoll, 1);
  const before = Date.now();
  const next = await s.holdpush.publish('wait', 'next', { contentType: 'text/x-next' });
  assert.equal(next.delivered, 1);
  const reply = await waiting;
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-type'], JSON_TYPE);
  const body = reply.json() as Batch;
  assert.deepEqual(body, {
    messages: [{ id: next.id, channel: 'wait', time: body.messages[0]?.time, contentType: 'text/x-next', data: 'next' }],
    last: next.id,
    gap: false,
  });
  const time = body.messages[0]?.time ?? 0;
  assert.ok(Number.isInteger(time) && time >= before && time <= Date.now(), `time ${time}`);
  assert.equal(s.holdpush.stats().held.total, 0);
});

test('several held batch subscribers all get the message', T, async (t) => {
  const s = await serve(t, { firstMessage: 'newest' });
  const waiting = [1, 2, 3].map(() => request(`${s.url}/sub/fan`, { headers: ACCEPT }));
  await held(s, 3);
  const next = await s.holdpush.publish('fan', 'out');
  assert.equal(next.delivered, 3);
  for (const reply of await Promise.all(waiting)) {
    assert.equal(reply.status, 200);
    assert.equal((reply.json() as Batch).last, next.id);
  }
});

test('204 No Content at the timeout, carrying the position', T, async (t) => {
  const s = await serve(t, { holdTimeout: 0.2 });
  const [id] = await publishMany(s, 'quiet', 1);
  const started = Date.now();
  const reply = await request(`${s.url}/sub/quiet`, { headers: { ...ACCEPT, 'Last-Event-ID': id as string } });
  const elapsed = Date.now() - started;
  assert.equal(reply.status, 204);
  assert.equal(reply.body.length, 0);
  assert.ok(elapsed >= 150 && elapsed < 2000, `answered after ${elapsed} ms`);
  assert.equal(reply.headers.etag, tokenOf(id as string));
  assert.equal(reply.headers['access-control-allow-origin'], '*');
  assert.equal(s.holdpush.stats().held.total, 0);
});

test('gap: "gap": true and X-Holdpush-Gap: 1, from the oldest held', T, async (t) => {
  const s = await serve(t, { buffer: 3 });
  const ids = await publishMany(s, 'gappy', 10);
  const reply = await request(`${s.url}/sub/gappy`, { headers: { ...ACCEPT, 'If-None-Match': tokenOf(ids[0] as string) } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-holdpush-gap'], '1');
  const body = reply.json() as Batch;
  assert.equal(body.gap, true);
  assert.deepEqual(body.messages.map((m) => m.data), ['m7', 'm8', 'm9']);
  assert.equal(body.last, ids[9]);
  const clean = (await request(`${s.url}/sub/gappy`, { headers: { ...ACCEPT, 'If-None-Match': tokenOf(ids[7] as string) } })).json() as Batch;
  assert.equal(clean.gap, false);
  assert.deepEqual(clean.messages.map((m) => m.data), ['m8', 'm9']);
});

test('gap while held: a made-up token on an empty channel, then a message', T, async (t) => {
  const s = await serve(t);
  const waiting = request(`${s.url}/sub/empty`, { headers: { ...ACCEPT, 'If-None-Match': 'never-issued' } });
  await held(s, 1);
  const next = await s.holdpush.publish('empty', 'first');
  const reply = await waiting;
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-holdpush-gap'], '1');
  const body = reply.json() as Batch;
  assert.equal(body.gap, true);
  assert.equal(body.last, next.id);
});

test('a malformed position is 400 JSON', T, async (t) => {
  const s = await serve(t);
  const reply = await request(`${s.url}/sub/x`, { headers: { ...ACCEPT, 'If-None-Match': '*' } });
  assert.equal(reply.status, 400);
  assert.equal((reply.json() as { error: string }).error, 'bad_position');
});

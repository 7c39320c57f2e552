import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mockIntervals } from './support/clock';
import { request } from './support/http';
import { held, publishMany, serve } from './support/servers';
import { openEventStream, parseEvents } from './support/sse';
import { waitFor } from './support/wait';

const T = { timeout: 10_000 };

test('parseEvents reads blocks, comments, multi-line data (helper self-check)', () => {
  const events = parseEvents(':ok\n\nid: 1:a\nevent: x\ndata: one\ndata: two\n\n:\n\ndata: tail');
  assert.deepEqual(events, [{ comments: ['ok'] }, { comments: [], id: '1:a', event: 'x', data: 'one\ntwo' }, { comments: [''] }]);
});

test('headers, the opening comment, then messages as id/data events', T, async (t) => {
  const s = await serve(t, { corsOrigin: 'https://app.example' });
  const stream = await openEventStream(`${s.url}/sub/live`);
  t.after(() => stream.close());
  assert.equal(stream.status, 200);
  assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(stream.headers['cache-control'], 'no-store');
  assert.equal(stream.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(stream.headers['content-length'], undefined);
  await stream.waitFor((text) => text.length > 0);
  assert.match(stream.text(), /^:[^\n]*\n\n$/);
  await held(s, 1);
  assert.deepEqual(s.holdpush.stats().held, { longpoll: 0, stream: 1, total: 1 });
  const first = await s.holdpush.publish('live', 'hello');
  assert.equal(first.delivered, 1);
  await stream.waitFor((text) => text.endsWith('data: hello\n\n'));
  assert.ok(stream.text().endsWith(`\n\nid: ${first.id}\ndata: hello\n\n`), stream.text());
  const second = await s.holdpush.publish('live', 'again');
  await stream.waitFor((text) => text.endsWith(`id: ${second.id}\ndata: again\n\n`));
  assert.deepEqual(
    stream.messages().map((e) => [e.id, e.data]),
    [[first.id, 'hello'], [second.id, 'again']],
  );
});

test('a multi-line body becomes one data: line per line (LF, CRLF, CR, empty lines)', T, async (t) => {
  const s = await serve(t);
  await s.holdpush.publish('lines', 'one\ntwo\r\nthree\rfour\n\nsix');
  const stream = await openEventStream(`${s.url}/sub/lines`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: six\n\n'));
  assert.match(stream.text(), /\ndata: one\ndata: two\ndata: three\ndata: four\ndata: \ndata: six\n\n$/);
  assert.equal(stream.messages()[0]?.data, 'one\ntwo\nthree\nfour\n\nsix');
});

test('event: line from the publisher, on replay and live', T, async (t) => {
  const s = await serve(t);
  await s.holdpush.publish('ev', 'replayed', { event: 'tick' });
  const stream = await openEventStream(`${s.url}/sub/ev`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: replayed'));
  await held(s, 1);
  const live = await request(`${s.url}/pub/ev`, { method: 'POST', body: 'live', headers: { 'X-EventSource-Event': 'tock' } });
  assert.equal(live.status, 201);
  await stream.waitFor((text) => text.includes('data: live\n\n'));
  assert.deepEqual(
    stream.messages().map((e) => [e.event, e.data]),
    [['tick', 'replayed'], ['tock', 'live']],
  );
});

test('replays from Last-Event-ID (and last_event_id), then goes live', T, async (t) => {
  const s = await serve(t);
  const ids = await publishMany(s, 'replay', 4);
  const stream = await openEventStream(`${s.url}/sub/replay`, { headers: { 'Last-Event-ID': ids[1] as string } });
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: m3\n\n'));
  await held(s, 1);
  const live = await s.holdpush.publish('replay', 'm4');
  await stream.waitFor((text) => text.includes('data: m4\n\n'));
  assert.deepEqual(
    stream.messages().map((e) => [e.id, e.data]),
    [[ids[2], 'm2'], [ids[3], 'm3'], [live.id, 'm4']],
  );
  assert.ok(!stream.text().includes('event: gap'));

  const byQuery = await openEventStream(`${s.url}/sub/replay?last_event_id=${encodeURIComponent(ids[2] as string)}`);
  t.after(() => byQuery.close());
  await byQuery.waitFor((text) => text.includes('data: m4\n\n'));
  assert.deepEqual(byQuery.messages().map((e) => e.data), ['m3', 'm4']);
});

test('without a position the stream replays the whole buffer (oldest first)', T, async (t) => {
  const s = await serve(t);
  await publishMany(s, 'all', 3);
  const stream = await openEventStream(`${s.url}/sub/all`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: m2\n\n'));
  assert.deepEqual(stream.messages().map((e) => e.data), ['m0', 'm1', 'm2']);
});

test('a long replay (more than one read page) arrives complete and in order', T, async (t) => {
  const s = await serve(t, { buffer: 2500 });
  await publishMany(s, 'long', 2100);
  const stream = await openEventStream(`${s.url}/sub/long`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: m2099\n\n'));
  await held(s, 1);
  await s.holdpush.publish('long', 'live');
  await stream.waitFor((text) => text.includes('data: live\n\n'));
  const data = stream.messages().map((e) => e.data);
  assert.equal(data.length, 2101);
  assert.deepEqual(data, [...Array.from({ length: 2100 }, (_, i) => `m${i}`), 'live']);
});

test('a multiplexed stream interleaves channels in publish order', T, async (t) => {
  const s = await serve(t);
  await s.holdpush.publish('b', 'b0');
  await s.holdpush.publish('a', 'a0');
  const stream = await openEventStream(`${s.url}/sub/a,b`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: a0'));
  await held(s, 1);
  await s.holdpush.publish('a', 'a1');
  await s.holdpush.publish('c', 'c-not-mine');
  await s.holdpush.publish('b', 'b1');
  await stream.waitFor((text) => text.includes('data: b1\n\n'));
  assert.deepEqual(stream.messages().map((e) => e.data), ['b0', 'a0', 'a1', 'b1']);
});

test('keepalive comments every --keepalive, not sooner, not later', T, async (t) => {
  // The server's intervals run on a clock that only this test moves (messages and sockets
  // do not need it), so it sees exactly when each comment goes out.
  const clock = mockIntervals(t);
  const s = await serve(t, { keepalive: 5 });
  const stream = await openEventStream(`${s.url}/sub/quiet`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.length > 0);
  await held(s, 1);
  const opening = stream.events().length;
  const keepalives = () => stream.events().slice(opening).filter((event) => event.data === undefined).length;
  for (let round = 1; round <= 3; round++) {
    clock.tick(4999);
    // A message marks a point in the stream: whatever was written before it has arrived with it.
    await s.holdpush.publish('quiet', `mark ${round}`);
    await stream.waitFor((text) => text.endsWith(`data: mark ${round}\n\n`));
    assert.equal(keepalives(), round - 1, `a keepalive before ${5 * round} s`);
    clock.tick(1);
    await stream.waitFor(() => keepalives() === round, 2000, `keepalive ${round} at ${5 * round} s`);
  }
  for (const event of stream.events().slice(opening)) {
    if (event.data === undefined) assert.deepEqual(event, { comments: [''] });
  }
  assert.deepEqual(stream.messages().map((event) => event.data), ['mark 1', 'mark 2', 'mark 3']);
});

test('gap: event gap with the position sent and the oldest id still held, before the replay', T, async (t) => {
  const s = await serve(t, { buffer: 3 });
  const ids = await publishMany(s, 'gappy', 6);
  const sent = ids[0] as string;
  const stream = await openEventStream(`${s.url}/sub/gappy`, { headers: { 'Last-Event-ID': sent } });
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: m5\n\n'));
  const messages = stream.messages();
  assert.deepEqual(messages[0], { comments: [], event: 'gap', data: JSON.stringify({ position: sent, oldest: ids[3] }) });
  assert.deepEqual(JSON.parse(messages[0]?.data as string), { position: sent, oldest: ids[3] });
  assert.deepEqual(messages.slice(1).map((e) => [e.id, e.data]), [[ids[3], 'm3'], [ids[4], 'm4'], [ids[5], 'm5']]);
  // The gap event comes after the opening comment and before the first message.
  const text = stream.text();
  assert.ok(text.startsWith(':'));
  assert.ok(text.indexOf('event: gap') < text.indexOf('data: m3'));
});

test('gap from a made-up token: announced with the position exactly as sent', T, async (t) => {
  const s = await serve(t);
  const ids = await publishMany(s, 'gappy', 2);
  const stream = await openEventStream(`${s.url}/sub/gappy?last_event_id=${encodeURIComponent('123:never-issued')}`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.includes('data: m1\n\n'));
  const messages = stream.messages();
  assert.equal(messages[0]?.event, 'gap');
  assert.deepEqual(JSON.parse(messages[0]?.data as string), { position: '123:never-issued', oldest: ids[0] });
  assert.deepEqual(messages.slice(1).map((e) => e.data), ['m0', 'm1']);
});

test('a malformed Last-Event-ID is 400 JSON, not a stream', T, async (t) => {
  const s = await serve(t);
  const reply = await request(`${s.url}/sub/x`, { headers: { Accept: 'text/event-stream', 'Last-Event-ID': 'W/"x"' } });
  assert.equal(reply.status, 400);
  assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal((reply.json() as { error: string }).error, 'bad_position');
});

test('a stream does not end at holdTimeout', T, async (t) => {
  const s = await serve(t, { holdTimeout: 0.2, keepalive: 30 });
  const stream = await openEventStream(`${s.url}/sub/long`);
  t.after(() => stream.close());
  await held(s, 1);
  // Two long-polls one after the other, each held from after the stream opened, time out: every
  // deadline the stream could have had has passed by the second 408 (the first may carry jitter).
  for (let i = 0; i < 2; i++) assert.equal((await request(`${s.url}/sub/long`)).status, 408);
  assert.equal(stream.isEnded(), false);
  assert.deepEqual(s.holdpush.stats().held, { longpoll: 0, stream: 1, total: 1 });
  await s.holdpush.publish('long', 'still here');
  await stream.waitFor((text) => text.includes('data: still here\n\n'));
  assert.ok(!stream.text().includes('408'));
});

test('released when the client closes', T, async (t) => {
  const s = await serve(t);
  const streams = await Promise.all([openEventStream(`${s.url}/sub/a`), openEventStream(`${s.url}/sub/a,b`)]);
  await held(s, 2);
  assert.equal(s.holdpush.stats().held.stream, 2);
  for (const stream of streams) stream.close();
  await waitFor(() => s.holdpush.stats().held.total === 0, 2000, 'streams released');
  assert.equal((await s.holdpush.publish('a', 'x')).delivered, 0);
});

test('released on channel delete: :410 Gone, then the end', T, async (t) => {
  const s = await serve(t);
  const stream = await openEventStream(`${s.url}/sub/doomed`);
  t.after(() => stream.close());
  const other = await openEventStream(`${s.url}/sub/kept`);
  t.after(() => other.close());
  await held(s, 2);
  await s.holdpush.publish('doomed', 'last words');
  await stream.waitFor((text) => text.includes('data: last words'));
  const deleted = await request(`${s.url}/pub/doomed`, { method: 'DELETE' });
  assert.equal(deleted.status, 200);
  await stream.ended;
  assert.ok(stream.text().endsWith('data: last words\n\n:410 Gone\n\n'), stream.text());
  await held(s, 1);
  assert.equal(other.isEnded(), false);
});

test('released on holdpush.close(): the stream ends, the registry is empty', T, async (t) => {
  const s = await serve(t);
  const stream = await openEventStream(`${s.url}/sub/bye`);
  t.after(() => stream.close());
  await held(s, 1);
  await s.holdpush.close();
  await stream.ended;
  assert.deepEqual(s.holdpush.stats().held, { longpoll: 0, stream: 0, total: 0 });
  assert.match(stream.text(), /\n\n:[^\n]*\n\n$/);
  // A new subscriber is told the server is going away.
  const late = await request(`${s.url}/sub/bye`, { headers: { Accept: 'text/event-stream' } });
  assert.equal(late.status, 503);
  assert.equal(late.headers['retry-after'], '1');
});

test('a slow reader is cut off once its unsent bytes pass the bound', { timeout: 20_000 }, async (t) => {
  const s = await serve(t, { buffer: 4, keepalive: 30 });
  const stream = await openEventStream(`${s.url}/sub/firehose`);
  t.after(() => stream.close());
  const fast = await openEventStream(`${s.url}/sub/firehose`);
  t.after(() => fast.close());
  await held(s, 2);
  stream.pause();
  const chunk = 'x'.repeat(60 * 1024);
  let sent = 0;
  while (s.holdpush.stats().held.stream === 2 && sent < 4000) {
    const { id } = await s.holdpush.publish('firehose', `${sent}:${chunk}`);
    sent += 1;
    // The fast reader (in this same process) keeps up before the next message goes out.
    await fast.waitFor((text) => text.lastIndexOf(`id: ${id}\n`) >= 0 && text.endsWith('\n\n'), 5000, `message ${sent} at the fast reader`);
  }
  await waitFor(() => s.holdpush.stats().held.stream === 1, 5000, 'the slow stream cut');
  assert.ok(sent < 4000, `still held after ${sent} messages`);
  // At least the bound (1 MiB) had to pile up before it was cut.
  assert.ok(sent * chunk.length > 1024 * 1024, `cut after ${sent} messages`);
  // Once it reads again, it finds its stream ended (it reconnects with its position).
  stream.resume();
  await stream.ended;
  // The fast reader keeps going and lost nothing.
  const last = await s.holdpush.publish('firehose', 'the end');
  await fast.waitFor((text) => text.endsWith(`id: ${last.id}\ndata: the end\n\n`), 10_000, 'the fast reader to catch up');
  const data = fast.messages().map((e) => (e.data as string).slice(0, (e.data as string).indexOf(':')));
  assert.deepEqual(data.slice(0, -1), Array.from({ length: sent }, (_, i) => String(i)));
  fast.close();
  await waitFor(() => s.holdpush.stats().held.total === 0, 2000, 'registry empty');
});

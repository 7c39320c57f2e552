import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mockNow } from './support/clock';
import { errorOf, pub, request, requestPath, tokenOf } from './support/http';
import { held, publishMany, serve } from './support/servers';
import { openEventStream } from './support/sse';
import { waitFor } from './support/wait';

const T = { timeout: 10_000 };
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

function info(messages: number, requested: number, subscribers: number, last: string): string {
  return `queued messages: ${messages}\r\nlast requested: ${requested} sec. ago\r\nactive subscribers: ${subscribers}\r\nlast message id: ${last}\r\n`;
}

describe('POST/PUT /pub', () => {
  test('202 when nobody waits, with the channel info in the Nchan layout', T, async (t) => {
    const s = await serve(t);
    const first = await pub(s, 'news', 'hello');
    assert.equal(first.status, 202);
    assert.equal(first.headers['content-type'], TEXT_TYPE);
    assert.equal(first.headers['cache-control'], 'no-store');
    const lastLine = /last message id: (\d+:\S+)\r\n$/.exec(first.text);
    assert.ok(lastLine, first.text);
    assert.equal(first.text, info(1, -1, 0, lastLine[1] as string));

    const put = await request(`${s.url}/pub/news`, { method: 'PUT', body: 'again' });
    assert.equal(put.status, 202);
    assert.match(put.text, /^queued messages: 2\r\n/);
  });

  test('201 only when a long-poll subscriber was waiting; it gets the body', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const waiting = request(`${s.url}/sub/news`);
    await held(s, 1);
    const published = await pub(s, 'news', 'for you');
    assert.equal(published.status, 201);
    // The subscriber was answered, so it no longer counts.
    assert.match(published.text, /\r\nactive subscribers: 0\r\n/);
    const got = await waiting;
    assert.equal(got.status, 200);
    assert.equal(got.text, 'for you');
    const next = await pub(s, 'news', 'nobody');
    assert.equal(next.status, 202);
  });

  test('201 for PUT with an EventSource subscriber waiting', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const stream = await openEventStream(`${s.url}/sub/live`);
    t.after(() => stream.close());
    await held(s, 1);
    const put = await request(`${s.url}/pub/live`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 201);
    assert.match(put.text, /\r\nactive subscribers: 1\r\n/);
  });

  test('201/202 only counts subscribers of that channel', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const waiting = request(`${s.url}/sub/other`, { headers: { Accept: 'application/json' } });
    await held(s, 1);
    assert.equal((await pub(s, 'news', 'x')).status, 202);
    assert.equal((await pub(s, 'other', 'y')).status, 201);
    assert.equal((await waiting).status, 200);
  });

  test('Content-Type is kept; none sent reads as text/plain; charset=utf-8', T, async (t) => {
    const s = await serve(t);
    await pub(s, 'typed', '{"a":1}', { 'Content-Type': 'application/vnd.example+json; v=2' });
    await pub(s, 'typed', 'plain');
    const one = await request(`${s.url}/sub/typed`);
    assert.equal(one.status, 200);
    assert.equal(one.headers['content-type'], 'application/vnd.example+json; v=2');
    assert.equal(one.text, '{"a":1}');
    const two = await request(`${s.url}/sub/typed`, { headers: { 'If-None-Match': one.headers.etag as string } });
    assert.equal(two.headers['content-type'], TEXT_TYPE);
    assert.equal(two.text, 'plain');
  });

  test('binary bodies pass through byte for byte', T, async (t) => {
    const s = await serve(t);
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13]);
    await pub(s, 'bin', bytes, { 'Content-Type': 'application/octet-stream' });
    const got = await request(`${s.url}/sub/bin`);
    assert.deepEqual(got.body, bytes);
    assert.equal(got.headers['content-length'], String(bytes.length));
  });

  test('X-EventSource-Event is kept and shows as the SSE event: line', T, async (t) => {
    const s = await serve(t);
    await pub(s, 'ev', 'payload', { 'X-EventSource-Event': 'price-update' });
    const stream = await openEventStream(`${s.url}/sub/ev`);
    t.after(() => stream.close());
    await stream.waitFor((text) => text.includes('data: payload\n\n'));
    const [message] = stream.messages();
    assert.equal(message?.event, 'price-update');
    assert.equal(message?.data, 'payload');
    assert.match(stream.text(), /\nid: \d+:[^\n]+\nevent: price-update\ndata: payload\n\n$/);
  });

  test('an X-EventSource-Event that is not one short line is 400', T, async (t) => {
    const s = await serve(t);
    const reply = await pub(s, 'ev', 'x', { 'X-EventSource-Event': 'e'.repeat(129) });
    assert.equal(reply.status, 400);
    assert.equal(errorOf(reply).error, 'bad_request');
  });

  test('a body over --max-message is 413', T, async (t) => {
    const s = await serve(t, { maxMessage: 16 });
    const reply = await pub(s, 'big', 'x'.repeat(17));
    assert.equal(reply.status, 413);
    assert.equal(errorOf(reply).error, 'payload_too_large');
    assert.equal((await pub(s, 'big', 'x'.repeat(16))).status, 202);
  });

  test('bad channel names are 400 on /pub too', T, async (t) => {
    const s = await serve(t);
    for (const name of ['a%2Fb', '..', '.', 'a:b', 'x'.repeat(129), 'a%20b', 'a,b', '']) {
      const reply = await requestPath(s, `/pub/${name}`, { method: 'POST', body: 'x' });
      assert.equal(reply.status, 400, name);
      assert.equal(errorOf(reply).error, 'bad_channel', name);
    }
    assert.equal((await pub(s, 'A-z_0.9@~', 'x')).status, 202);
    assert.equal((await pub(s, 'x'.repeat(128), 'x')).status, 202);
  });
});

describe('GET and DELETE /pub', () => {
  test('info in the Nchan text layout, with subscribers and last requested', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const ids = await publishMany(s, 'room', 3);
    const fresh = await request(`${s.url}/pub/room`);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers['content-type'], TEXT_TYPE);
    assert.equal(fresh.text, info(3, -1, 0, ids[2] as string));

    const waiting = request(`${s.url}/sub/room`);
    await held(s, 1);
    const now = await request(`${s.url}/pub/room`);
    assert.equal(now.text, info(3, 0, 1, ids[2] as string));
    await s.holdpush.publish('room', 'x');
    assert.equal((await waiting).status, 200);
  });

  test('JSON info for Accept: application/json, answered as application/json', T, async (t) => {
    const s = await serve(t);
    const ids = await publishMany(s, 'room', 2);
    const reply = await request(`${s.url}/pub/room`, { headers: { Accept: 'application/json' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], JSON_TYPE);
    assert.deepEqual(reply.json(), { messages: 2, requested: -1, subscribers: 0, last_message_id: ids[1] });
  });

  test('JSON info for Accept: text/json, answered as text/json', T, async (t) => {
    const s = await serve(t);
    const ids = await publishMany(s, 'room', 1);
    const reply = await request(`${s.url}/pub/room`, { headers: { Accept: 'text/json' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/json; charset=utf-8');
    assert.deepEqual(reply.json(), { messages: 1, requested: -1, subscribers: 0, last_message_id: ids[0] });
    const posted = await pub(s, 'room', 'x', { Accept: 'text/json' });
    assert.equal(posted.status, 202);
    assert.equal(posted.headers['content-type'], 'text/json; charset=utf-8');
    assert.equal((posted.json() as { messages: number }).messages, 2);
  });

  test('404 JSON for an unknown channel', T, async (t) => {
    const s = await serve(t);
    const reply = await request(`${s.url}/pub/nothing-here`);
    assert.equal(reply.status, 404);
    assert.equal(reply.headers['content-type'], JSON_TYPE);
    assert.equal(errorOf(reply).error, 'not_found');
    const gone = await request(`${s.url}/pub/nothing-here`, { method: 'DELETE' });
    assert.equal(gone.status, 404);
    assert.equal(errorOf(gone).error, 'not_found');
  });

  test('DELETE: 200 with the info; held long-polls get 410; the channel is gone', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const ids = await publishMany(s, 'doomed', 2);
    const polls = [request(`${s.url}/sub/doomed`), request(`${s.url}/sub/doomed`, { headers: { Accept: 'application/json' } })];
    await held(s, 2);
    const deleted = await request(`${s.url}/pub/doomed`, { method: 'DELETE' });
    assert.equal(deleted.status, 200);
    assert.equal(deleted.headers['content-type'], TEXT_TYPE);
    assert.match(deleted.text, new RegExp(`^queued messages: 2\\r\\nlast requested: 0 sec\\. ago\\r\\nactive subscribers: \\d\\r\\nlast message id: ${ids[1]}\\r\\n$`));
    for (const poll of await Promise.all(polls)) {
      assert.equal(poll.status, 410);
      assert.equal(poll.headers['content-type'], JSON_TYPE);
      assert.equal(errorOf(poll).error, 'gone');
      assert.equal(poll.headers['access-control-allow-origin'], '*');
    }
    assert.equal(s.holdpush.stats().held.total, 0);
    assert.equal((await request(`${s.url}/pub/doomed`)).status, 404);
    // The buffer went with it: a new subscriber from the start finds nothing.
    const after = request(`${s.url}/sub/doomed`, { headers: { 'If-None-Match': tokenOf(ids[0] as string) } });
    await held(s, 1);
    await s.holdpush.publish('doomed', 'reborn');
    const reborn = await after;
    assert.equal(reborn.text, 'reborn');
  });

  test('DELETE: EventSource streams get a :410 Gone comment, then the end', T, async (t) => {
    const s = await serve(t);
    await publishMany(s, 'doomed', 1);
    const stream = await openEventStream(`${s.url}/sub/doomed`);
    t.after(() => stream.close());
    await held(s, 1);
    assert.equal((await request(`${s.url}/pub/doomed`, { method: 'DELETE' })).status, 200);
    await stream.ended;
    assert.ok(stream.text().endsWith(':410 Gone\n\n'), stream.text());
    assert.equal(s.holdpush.stats().held.total, 0);
  });

  test('405 with Allow for PATCH on /pub and POST on /sub', T, async (t) => {
    const s = await serve(t);
    const patch = await request(`${s.url}/pub/x`, { method: 'PATCH', body: 'x' });
    assert.equal(patch.status, 405);
    assert.equal(patch.headers.allow, 'GET, POST, PUT, DELETE, OPTIONS');
    assert.equal(patch.headers['content-type'], JSON_TYPE);
    assert.equal(errorOf(patch).error, 'method_not_allowed');
    const post = await request(`${s.url}/sub/x`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, OPTIONS');
    assert.equal(errorOf(post).error, 'method_not_allowed');
  });
});

describe('GET /sub long-poll', () => {
  test('200 with the body, a bare Etag, Last-Modified, Vary and Cache-Control', T, async (t) => {
    const s = await serve(t);
    const before = Math.floor(Date.now() / 1000);
    const published = await s.holdpush.publish('news', 'first');
    const reply = await request(`${s.url}/sub/news`);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'first');
    assert.equal(reply.headers['content-type'], TEXT_TYPE);
    assert.equal(reply.headers['content-length'], '5');
    assert.equal(reply.headers.etag, tokenOf(published.id));
    assert.match(reply.headers.etag as string, /^[0-9A-Za-z._~-]{1,512}$/);
    assert.equal(reply.headers.vary, 'If-None-Match, If-Modified-Since');
    assert.equal(reply.headers['cache-control'], 'no-store');
    assert.equal(reply.headers['x-holdpush-gap'], undefined);
    const modified = reply.headers['last-modified'] as string;
    assert.match(modified, HTTP_DATE);
    const seconds = Date.parse(modified) / 1000;
    assert.equal(String(seconds), published.id.split(':')[0]);
    assert.ok(seconds >= before && seconds <= Date.now() / 1000);
  });

  test('one message per response, in order, following the Etag', T, async (t) => {
    const s = await serve(t);
    await publishMany(s, 'seq', 5);
    const got: string[] = [];
    let etag: string | undefined;
    for (let i = 0; i < 5; i++) {
      const reply = await request(`${s.url}/sub/seq`, { headers: etag === undefined ? {} : { 'If-None-Match': etag } });
      assert.equal(reply.status, 200);
      got.push(reply.text);
      etag = reply.headers.etag as string;
    }
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  test('a held long-poll is answered by the next message', T, async (t) => {
    const s = await serve(t);
    const [id] = await publishMany(s, 'wait', 1);
    const waiting = request(`${s.url}/sub/wait`, { headers: { 'If-None-Match': tokenOf(id as string) } });
    await held(s, 1);
    assert.equal(s.holdpush.stats().held.longpoll, 1);
    const next = await s.holdpush.publish('wait', 'next');
    assert.equal(next.delivered, 1);
    const reply = await waiting;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'next');
    assert.equal(reply.headers.etag, tokenOf(next.id));
    assert.equal(s.holdpush.stats().held.total, 0);
  });

  describe('position sources and precedence', () => {
    async function fourMessages(t: import('node:test').TestContext) {
      const s = await serve(t);
      const ids = await publishMany(s, 'p', 4);
      const tokens = ids.map(tokenOf);
      return { s, ids, tokens };
    }

    test('each source alone names the position', T, async (t) => {
      const { s, ids, tokens } = await fourMessages(t);
      const url = `${s.url}/sub/p`;
      assert.equal((await request(url, { headers: { 'If-None-Match': tokens[0] as string } })).text, 'm1');
      assert.equal((await request(url, { headers: { 'Last-Event-ID': ids[1] as string } })).text, 'm2');
      assert.equal((await request(`${url}?last_event_id=${encodeURIComponent(ids[0] as string)}`)).text, 'm1');
      assert.equal((await request(url, { headers: { Etag: ids[2] as string } })).text, 'm3');
    });

    test('If-None-Match > Last-Event-ID > last_event_id > Etag', T, async (t) => {
      const { s, tokens } = await fourMessages(t);
      const all = { 'If-None-Match': tokens[0] as string, 'Last-Event-ID': tokens[1] as string, Etag: tokens[2] as string };
      const query = `?last_event_id=${tokens[2]}`;
      assert.equal((await request(`${s.url}/sub/p${query}`, { headers: all })).text, 'm1');
      const { 'If-None-Match': _a, ...noInm } = all;
      assert.equal((await request(`${s.url}/sub/p?last_event_id=${tokens[0]}`, { headers: noInm })).text, 'm2');
      assert.equal((await request(`${s.url}/sub/p?last_event_id=${tokens[1]}`, { headers: { Etag: tokens[0] as string } })).text, 'm2');
      assert.equal((await request(`${s.url}/sub/p`, { headers: { Etag: tokens[2] as string } })).text, 'm3');
    });

    test('an empty source is skipped for the next one', T, async (t) => {
      const { s, tokens } = await fourMessages(t);
      const reply = await request(`${s.url}/sub/p?last_event_id=`, { headers: { 'If-None-Match': '', 'Last-Event-ID': '', Etag: tokens[1] as string } });
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'm2');
    });

    test('a malformed lower source is not read when a higher one names the position', T, async (t) => {
      const { s, tokens } = await fourMessages(t);
      const reply = await request(`${s.url}/sub/p?last_event_id=*`, { headers: { 'If-None-Match': tokens[0] as string, Etag: 'W/"x"' } });
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'm1');
    });

    test('"T" in quotes and <seconds>:<T> are accepted; the time part is ignored', T, async (t) => {
      const { s, tokens } = await fourMessages(t);
      const url = `${s.url}/sub/p`;
      assert.equal((await request(url, { headers: { 'If-None-Match': `"${tokens[0]}"` } })).text, 'm1');
      assert.equal((await request(url, { headers: { 'Last-Event-ID': `0:${tokens[1]}` } })).text, 'm2');
      assert.equal((await request(url, { headers: { Etag: `"99999999999:${tokens[2]}"` } })).text, 'm3');
      assert.equal((await request(`${url}?last_event_id=${encodeURIComponent(`"${tokens[0]}"`)}`)).text, 'm1');
    });

    test('malformed positions are 400 JSON, from every source', T, async (t) => {
      const { s } = await fourMessages(t);
      const bad = ['*', 'W/"x"', 'x'.repeat(513), 'a b', 'a/b', 'x:abc', '1:', ':abc', '""', 'a,b'];
      for (const value of bad) {
        for (const header of ['If-None-Match', 'Last-Event-ID', 'Etag']) {
          const reply = await request(`${s.url}/sub/p`, { headers: { [header]: value } });
          assert.equal(reply.status, 400, `${header}: ${value}`);
          assert.equal(reply.headers['content-type'], JSON_TYPE);
          assert.equal(errorOf(reply).error, 'bad_position');
        }
        const reply = await request(`${s.url}/sub/p?last_event_id=${encodeURIComponent(value)}`);
        assert.equal(reply.status, 400, `last_event_id=${value}`);
        assert.equal(errorOf(reply).error, 'bad_position');
      }
      // 512 characters is the longest token: well-formed, never issued, so a gap, not a 400.
      const longest = await request(`${s.url}/sub/p`, { headers: { 'If-None-Match': 'x'.repeat(512) } });
      assert.equal(longest.status, 200);
      assert.equal(longest.headers['x-holdpush-gap'], '1');
      assert.equal(longest.text, 'm0');
      // The error echoes a bounded piece of what was sent.
      const echoed = await request(`${s.url}/sub/p`, { headers: { 'If-None-Match': `*${'y'.repeat(600)}` } });
      assert.ok(echoed.text.length < 300, echoed.text);
      assert.equal(s.holdpush.stats().held.total, 0);
    });
  });

  test('firstMessage oldest (default): no position starts at the oldest buffered message', T, async (t) => {
    const s = await serve(t);
    await publishMany(s, 'start', 3);
    const reply = await request(`${s.url}/sub/start`);
    assert.equal(reply.text, 'm0');
  });

  test('firstMessage newest: no position waits for the next message', T, async (t) => {
    const s = await serve(t, { firstMessage: 'newest' });
    const ids = await publishMany(s, 'start', 3);
    const waiting = request(`${s.url}/sub/start`);
    await held(s, 1);
    await s.holdpush.publish('start', 'fresh');
    assert.equal((await waiting).text, 'fresh');
    // With a position, newest does not matter.
    assert.equal((await request(`${s.url}/sub/start`, { headers: { 'If-None-Match': tokenOf(ids[0] as string) } })).text, 'm1');
  });

  describe('hold timeout', () => {
    test('408 at the timeout with Etag = the position sent and Last-Modified = its If-Modified-Since', T, async (t) => {
      const s = await serve(t, { holdTimeout: 0.2 });
      const [id] = await publishMany(s, 'quiet', 1);
      const since = 'Wed, 21 Oct 2015 07:28:00 GMT';
      const started = Date.now();
      const reply = await request(`${s.url}/sub/quiet`, { headers: { 'If-None-Match': `"${tokenOf(id as string)}"`, 'If-Modified-Since': since } });
      const elapsed = Date.now() - started;
      assert.equal(reply.status, 408);
      assert.ok(elapsed >= 150 && elapsed < 2000, `answered after ${elapsed} ms`);
      assert.equal(reply.headers.etag, tokenOf(id as string));
      assert.equal(reply.headers['last-modified'], since);
      assert.equal(reply.headers['content-type'], JSON_TYPE);
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.equal(reply.headers['access-control-allow-origin'], '*');
      assert.equal(errorOf(reply).error, 'timeout');
      assert.equal(s.holdpush.stats().held.total, 0);
    });

    test('408 without a position carries the head; no If-Modified-Since, no Last-Modified', T, async (t) => {
      const s = await serve(t, { holdTimeout: 0.2 });
      const elsewhere = await s.holdpush.publish('elsewhere', 'x');
      const reply = await request(`${s.url}/sub/quiet`);
      assert.equal(reply.status, 408);
      assert.equal(reply.headers.etag, tokenOf(elsewhere.id));
      assert.equal(reply.headers['last-modified'], undefined);
      // Coming back from the head gets exactly the next message.
      const again = request(`${s.url}/sub/quiet`, { headers: { 'If-None-Match': reply.headers.etag as string } });
      await held(s, 1);
      await s.holdpush.publish('quiet', 'after the head');
      assert.equal((await again).text, 'after the head');
    });

    test('408 on an empty store still carries a usable head', T, async (t) => {
      const s = await serve(t, { holdTimeout: 0.2 });
      const reply = await request(`${s.url}/sub/quiet`);
      assert.equal(reply.status, 408);
      const head = reply.headers.etag as string;
      assert.match(head, /^[0-9A-Za-z._~-]{1,512}$/);
      await s.holdpush.publish('quiet', 'first ever');
      const next = await request(`${s.url}/sub/quiet`, { headers: { 'If-None-Match': head } });
      assert.equal(next.status, 200);
      assert.equal(next.text, 'first ever');
      assert.equal(next.headers['x-holdpush-gap'], undefined);
    });

    test('the timeout has at most 10% jitter below it', T, async (t) => {
      // The server reads a clock this test moves, and a Math.random it sets; its deadline
      // timer runs for real (every 50 ms for a 1 s hold). Start on a whole second, so that
      // the 50 ms slots fall on round times: a hold from `zero` is due at zero + 900..1000.
      const zero = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      const advance = mockNow(t, zero - 500);
      let roll = 0;
      t.mock.method(Math, 'random', () => roll);
      const s = await serve(t, { holdTimeout: 1 });
      // A marker held half a hold earlier: its 408 (due at zero + 500) shows a sweep has run.
      const marker = request(`${s.url}/sub/quiet`);
      await held(s, 1);
      advance(500);
      roll = 0.999; // the most jitter: due at zero + 900.1
      const most = request(`${s.url}/sub/quiet`);
      await held(s, 2);
      roll = 0; // none: due at zero + 1000
      const none = request(`${s.url}/sub/quiet`);
      await held(s, 3);
      advance(899);
      assert.equal((await marker).status, 408);
      assert.equal(s.holdpush.stats().held.total, 2, 'a long-poll answered before 90% of its hold');
      advance(51);
      await waitFor(() => s.holdpush.stats().held.total === 1, 2000, 'the long-poll with the most jitter answered at 95% of its hold');
      assert.equal((await most).status, 408);
      advance(50);
      assert.equal((await none).status, 408);
      assert.equal(s.holdpush.stats().held.total, 0);
    });
  });

  describe('multiplexing', () => {
    test('up to 16 channels: messages in publish order across them', T, async (t) => {
      const s = await serve(t);
      const names = Array.from({ length: 16 }, (_, i) => `c${i}`);
      const order: string[] = [];
      for (let round = 0; round < 2; round++) {
        for (const name of [...names].reverse()) {
          await s.holdpush.publish(name, `${name}/${round}`);
          order.push(`${name}/${round}`);
        }
      }
      await s.holdpush.publish('not-subscribed', 'never');
      const got: string[] = [];
      let etag: string | undefined;
      while (got.length < order.length) {
        const reply = await request(`${s.url}/sub/${names.join(',')}`, { headers: etag === undefined ? {} : { 'If-None-Match': etag } });
        assert.equal(reply.status, 200);
        got.push(reply.text);
        etag = reply.headers.etag as string;
      }
      assert.deepEqual(got, order);
    });

    test('a held multiplexed long-poll wakes on any of its channels, once', T, async (t) => {
      const s = await serve(t, { firstMessage: 'newest' });
      const waiting = request(`${s.url}/sub/a,b,c`);
      await held(s, 1);
      const result = await s.holdpush.publish('c', 'on c');
      assert.equal(result.delivered, 1);
      assert.equal((await waiting).text, 'on c');
      assert.equal(s.holdpush.stats().held.total, 0);
      const next = await s.holdpush.publish('a', 'on a');
      assert.equal(next.delivered, 0);
    });

    test('17 channels is 400; bad names are 400', T, async (t) => {
      const s = await serve(t);
      const seventeen = Array.from({ length: 17 }, (_, i) => `c${i}`).join(',');
      const tooMany = await request(`${s.url}/sub/${seventeen}`);
      assert.equal(tooMany.status, 400);
      assert.equal(errorOf(tooMany).error, 'bad_channel');
      for (const list of ['a%2Fb', '..', '%2E%2E', '.', 'x'.repeat(129), 'a:b', 'ok,a:b', 'a,,b', '', 'a%00b', 'a%20b', 'a%ZZ']) {
        const reply = await requestPath(s, `/sub/${list}`);
        assert.equal(reply.status, 400, list);
        assert.equal(reply.headers['content-type'], JSON_TYPE);
        assert.ok(['bad_channel', 'bad_request'].includes(errorOf(reply).error), list);
      }
      assert.equal(s.holdpush.stats().held.total, 0);
    });
  });

  describe('gaps', () => {
    test('buffer 3, 10 published: from the first position, the oldest held with X-Holdpush-Gap: 1', T, async (t) => {
      const s = await serve(t, { buffer: 3 });
      const ids = await publishMany(s, 'g', 10);
      const reply = await request(`${s.url}/sub/g`, { headers: { 'If-None-Match': tokenOf(ids[0] as string) } });
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'm7');
      assert.equal(reply.headers['x-holdpush-gap'], '1');
      assert.equal(reply.headers.etag, tokenOf(ids[7] as string));
      // From there on, no gap.
      const next = await request(`${s.url}/sub/g`, { headers: { 'If-None-Match': reply.headers.etag as string } });
      assert.equal(next.text, 'm8');
      assert.equal(next.headers['x-holdpush-gap'], undefined);
      // A position just before the oldest held is no gap.
      const edge = await request(`${s.url}/sub/g`, { headers: { 'If-None-Match': tokenOf(ids[6] as string) } });
      assert.equal(edge.text, 'm7');
      assert.equal(edge.headers['x-holdpush-gap'], undefined);
      assert.equal(s.holdpush.stats().messages.evicted, 7);
    });

    test('a made-up well-formed token is a gap at once: never a hang, never a 400', T, async (t) => {
      const s = await serve(t, { holdTimeout: 5 });
      const ids = await publishMany(s, 'g', 3);
      const real = tokenOf(ids[2] as string);
      const epoch = real.slice(0, real.lastIndexOf('-'));
      for (const made of ['made-up', 'zzz-1', '0', `${epoch}-999999`, `${epoch}-99999999999999999999`, `1:${epoch}x-1`]) {
        const started = Date.now();
        const reply = await request(`${s.url}/sub/g`, { headers: { 'If-None-Match': made } });
        assert.equal(reply.status, 200, made);
        assert.equal(reply.text, 'm0', made);
        assert.equal(reply.headers['x-holdpush-gap'], '1', made);
        assert.ok(Date.now() - started < 1000, made);
      }
    });

    test('a made-up token on an empty channel gets the next message with the gap flag', T, async (t) => {
      const s = await serve(t);
      const waiting = request(`${s.url}/sub/empty`, { headers: { 'If-None-Match': 'never-issued' } });
      await held(s, 1);
      await s.holdpush.publish('empty', 'first');
      const reply = await waiting;
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'first');
      assert.equal(reply.headers['x-holdpush-gap'], '1');
    });

    test('messageTtl 0.2: expired messages count as a gap', T, async (t) => {
      const s = await serve(t, { messageTtl: 0.2 });
      const ids = await publishMany(s, 'ttl', 2);
      await waitFor(() => s.holdpush.stats().messages.expired === 2, 3000, 'both messages expired');
      const fresh = await s.holdpush.publish('ttl', 'fresh');
      const reply = await request(`${s.url}/sub/ttl`, { headers: { 'If-None-Match': tokenOf(ids[0] as string) } });
      assert.equal(reply.status, 200);
      assert.equal(reply.text, 'fresh');
      assert.equal(reply.headers['x-holdpush-gap'], '1');
      assert.equal(reply.headers.etag, tokenOf(fresh.id));
    });

    test('every message exactly once, in order, while a publisher floods (300)', { timeout: 15_000 }, async (t) => {
      const s = await serve(t, { holdTimeout: 2 });
      const total = 300;
      const publisher = (async () => {
        for (let i = 0; i < total; i++) {
          const reply = await pub(s, 'flood', `n${i}`);
          assert.ok(reply.status === 201 || reply.status === 202);
          if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const got: string[] = [];
      let etag: string | undefined;
      while (got.length < total) {
        const reply = await request(`${s.url}/sub/flood`, { headers: etag === undefined ? {} : { 'If-None-Match': etag } });
        if (reply.status === 408) {
          etag = reply.headers.etag as string;
          continue;
        }
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['x-holdpush-gap'], undefined);
        got.push(reply.text);
        etag = reply.headers.etag as string;
      }
      await publisher;
      assert.deepEqual(got, Array.from({ length: total }, (_, i) => `n${i}`));
    });
  });

  describe('CORS', () => {
    test('OPTIONS preflight: 204 with Allow and the Access-Control headers', T, async (t) => {
      const s = await serve(t);
      const reply = await request(`${s.url}/sub/news`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'etag, if-none-match' },
      });
      assert.equal(reply.status, 204);
      assert.equal(reply.body.length, 0);
      assert.equal(reply.headers.allow, 'GET, OPTIONS');
      assert.equal(reply.headers['access-control-allow-methods'], 'GET, OPTIONS');
      const allowed = (reply.headers['access-control-allow-headers'] as string).split(',').map((h) => h.trim().toLowerCase());
      for (const header of ['if-none-match', 'if-modified-since', 'etag', 'last-event-id', 'content-type', 'cache-control', 'authorization', 'x-eventsource-event']) {
        assert.ok(allowed.includes(header), header);
      }
      assert.equal(reply.headers['access-control-allow-origin'], '*');
      const pubPreflight = await request(`${s.url}/pub/news`, { method: 'OPTIONS' });
      assert.equal(pubPreflight.status, 204);
      assert.equal(pubPreflight.headers.allow, 'GET, POST, PUT, DELETE, OPTIONS');
      const seed = await request(`${s.url}/?uid=u`, { method: 'OPTIONS' });
      assert.equal(seed.status, 204);
      assert.match(seed.headers.allow as string, /\bGET\b/);
    });

    test('corsOrigin narrows Access-Control-Allow-Origin; Etag, Last-Modified, X-Holdpush-Gap are exposed', T, async (t) => {
      const s = await serve(t, { corsOrigin: 'https://app.example', buffer: 1 });
      const ids = await publishMany(s, 'news', 2);
      const preflight = await request(`${s.url}/sub/news`, { method: 'OPTIONS', headers: { Origin: 'https://app.example' } });
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
      const reply = await request(`${s.url}/sub/news`, { headers: { Origin: 'https://app.example', 'If-None-Match': tokenOf(ids[0] as string).replace(/-\d+$/, '-0') } });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['access-control-allow-origin'], 'https://app.example');
      const exposed = (reply.headers['access-control-expose-headers'] as string).split(',').map((h) => h.trim().toLowerCase());
      for (const header of ['etag', 'last-modified', 'x-holdpush-gap']) assert.ok(exposed.includes(header), header);
      const error = await request(`${s.url}/sub/a:b`);
      assert.equal(error.headers['access-control-allow-origin'], 'https://app.example');
    });
  });

  test('a client that goes away while held is forgotten at once', T, async (t) => {
    const s = await serve(t);
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const pending = controllers.map((c, i) =>
      request(`${s.url}/sub/${i === 2 ? 'a,b,c' : 'left'}`, { signal: c.signal, headers: i === 1 ? { Accept: 'application/json' } : {} }).catch((e: Error) => e),
    );
    await held(s, 3);
    for (const c of controllers) c.abort();
    for (const outcome of await Promise.all(pending)) assert.ok(outcome instanceof Error);
    await waitFor(() => s.holdpush.stats().held.total === 0, 2000, 'registry empty');
    assert.deepEqual(s.holdpush.stats().held, { longpoll: 0, stream: 0, total: 0 });
    // The channels it made are forgotten too, and a publish finds nobody.
    const published = await s.holdpush.publish('left', 'x');
    assert.equal(published.delivered, 0);
  });
});

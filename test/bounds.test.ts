/**
 * Bounds against abuse: --max-channels, --max-subscribers, 16 channels per
 * subscription, body and header sizes, slowloris, idle keep-alive, forgotten channels, and
 * what node:http itself refuses answered in JSON.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { createHoldpushServer } from '../lib/index';
import { type Outcome, judge, sendRaw } from './support/fuzz-http';
import { type Reply, multipart, request } from './support/http';
import { type Running, held, startServer, suiteServer } from './support/servers';
import { openEventStream } from './support/sse';
import { waitFor } from './support/wait';

function raw(port: number, text: string | Buffer, options: { end?: boolean; ms?: number } = {}): Promise<Outcome> {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return sendRaw(port, { lane: 'raw', segments: [bytes], gapMs: 0, end: options.end ?? true, label: 'bounds' }, options.ms ?? 5000);
}

function jsonError(reply: Reply): { error: string; message: string } {
  assert.match(String(reply.headers['content-type']), /^application\/json/, reply.text);
  const body = reply.json() as { error: string; message: string };
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  return body;
}

/** A held request we can drop: resolves with the answer, or with 'aborted' once dropped. */
function holdOpen(url: string, headers: Record<string, string> = {}): { done: Promise<Reply | 'aborted'>; drop(): void } {
  const controller = new AbortController();
  const done = request(url, { headers, signal: controller.signal }).catch((error: NodeJS.ErrnoException) => {
    if (error.name === 'AbortError' || error.code === 'ABORT_ERR' || error.code === 'ECONNRESET') return 'aborted' as const;
    throw error;
  });
  return { done, drop: () => controller.abort() };
}

describe('--max-subscribers', () => {
  const server = suiteServer({ maxSubscribers: 2, holdTimeout: 10 });

  test('one more held request than the limit gets 503 with Retry-After and a JSON body; a slot frees when a client leaves', async () => {
    const poll = holdOpen(`${server.url}/sub/full`);
    const stream = await openEventStream(`${server.url}/sub/full`);
    assert.equal(stream.status, 200);
    await held(server, 2);
    for (const path of ['/sub/full', '/sub/other', '/?uid=late']) {
      const refused = await request(`${server.url}${path}`);
      assert.equal(refused.status, 503, path);
      assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After');
      assert.equal(jsonError(refused).error, 'too_many_subscribers');
    }
    assert.equal(server.holdpush.stats().held.total, 2);
    stream.close();
    await held(server, 1);
    const again = holdOpen(`${server.url}/sub/full`);
    await held(server, 2);
    poll.drop();
    again.drop();
    assert.equal(await poll.done, 'aborted');
    assert.equal(await again.done, 'aborted');
    await held(server, 0);
  });
});

describe('--max-channels', () => {
  const server = suiteServer({ maxChannels: 2, holdTimeout: 10, messageTtl: 0.3 });

  test('a subscription or a publish that would make one channel too many gets 503 with Retry-After and a JSON body', async () => {
    const a = holdOpen(`${server.url}/sub/a`);
    const b = holdOpen(`${server.url}/sub/b`);
    await held(server, 2);
    assert.equal(server.holdpush.stats().channels, 2);
    for (const path of ['/sub/c', '/sub/a,c', '/?uid=newcomer']) {
      const refused = await request(`${server.url}${path}`);
      assert.equal(refused.status, 503, path);
      assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After');
      assert.equal(jsonError(refused).error, 'too_many_channels');
    }
    const published = await request(`${server.url}/pub/c`, { method: 'POST', body: 'no room' });
    assert.equal(published.status, 503);
    assert.ok(Number(published.headers['retry-after']) > 0, 'Retry-After on a publish');
    assert.equal(jsonError(published).error, 'too_many_channels');
    // Channels that exist are still served.
    const more = holdOpen(`${server.url}/sub/a,b`);
    await held(server, 3);
    const sent = await request(`${server.url}/pub/a`, { method: 'POST', body: 'to a' });
    assert.equal(sent.status, 201);
    assert.equal(((await a.done) as Reply).text, 'to a');
    assert.equal(((await more.done) as Reply).text, 'to a');
    b.drop();
    assert.equal(await b.done, 'aborted');
    await held(server, 0);
    // Once a's message expires and nobody holds them, both are forgotten and there is room again.
    await waitFor(() => server.holdpush.stats().channels === 0, 3000, 'channels forgotten');
    const c = await request(`${server.url}/pub/c`, { method: 'POST', body: 'room now' });
    assert.equal(c.status, 202);
  });
});

describe('channels per subscription', () => {
  const server = suiteServer({ holdTimeout: 10 });

  test('16 channels are one subscription; 17 get 400 and touch nothing', async () => {
    const names = Array.from({ length: 17 }, (_, i) => `ch${i}`);
    const sixteen = holdOpen(`${server.url}/sub/${names.slice(0, 16).join(',')}`);
    await held(server, 1);
    assert.equal(server.holdpush.stats().channels, 16);
    const refused = await request(`${server.url}/sub/${names.join(',')}`);
    assert.equal(refused.status, 400);
    assert.equal(jsonError(refused).error, 'bad_channel');
    assert.equal(server.holdpush.stats().channels, 16);
    await server.holdpush.publish('ch15', 'the sixteenth');
    const got = (await sixteen.done) as Reply;
    assert.equal(got.status, 200);
    assert.equal(got.text, 'the sixteenth');
  });

  test('a channel named twice is held once and answered once; named 17 times it is still 17 names (400)', async () => {
    const channelsBefore = server.holdpush.stats().channels;
    const twice = holdOpen(`${server.url}/sub/twice,twice`);
    await held(server, 1);
    assert.equal(server.holdpush.stats().channels, channelsBefore + 1);
    const info = await request(`${server.url}/pub/twice`, { headers: { Accept: 'application/json' } });
    assert.equal(JSON.parse(info.text).subscribers, 1);
    const published = await server.holdpush.publish('twice', 'once');
    assert.equal(published.delivered, 1);
    const got = (await twice.done) as Reply;
    assert.equal(got.status, 200);
    assert.equal(got.text, 'once');
    const first = await server.holdpush.publish('twice', 'again');
    await server.holdpush.publish('twice', 'and again');
    const batch = await request(`${server.url}/sub/twice,twice?last_event_id=${encodeURIComponent(published.id)}`, { headers: { Accept: 'application/json' } });
    const ids = (JSON.parse(batch.text) as { messages: { id: string }[] }).messages.map((m) => m.id);
    assert.equal(ids.length, 2);
    assert.equal(ids[0], first.id);
    const refused = await request(`${server.url}/sub/${Array.from({ length: 17 }, () => 'same').join(',')}`);
    assert.equal(refused.status, 400);
    jsonError(refused);
  });
});

describe('body size limits', () => {
  const server = suiteServer({ maxMessage: 1024 });

  test('/pub takes exactly --max-message bytes and refuses one more with a JSON 413', async () => {
    const fits = await request(`${server.url}/pub/big`, { method: 'POST', body: Buffer.alloc(1024, 97) });
    assert.equal(fits.status, 202, fits.text);
    const over = await request(`${server.url}/pub/big`, { method: 'POST', body: Buffer.alloc(1025, 97) });
    assert.equal(over.status, 413);
    assert.equal(jsonError(over).error, 'payload_too_large');
    assert.equal(over.headers.connection, 'close');
    const info = (await request(`${server.url}/pub/big`, { headers: { Accept: 'application/json' } })).json() as { messages: number };
    assert.equal(info.messages, 1, 'the refused message was not stored');
  });

  test('a chunked body is cut as soon as it passes the limit', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(`${server.url}/pub/big`, { method: 'POST', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) });
        });
      });
      req.on('error', reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(400, 98));
      req.end();
    });
    assert.equal(reply.status, 413);
    assert.equal(jsonError(reply).error, 'payload_too_large');
  });

  test('a declared Content-Length over the limit is refused before the body is sent', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(`${server.url}/pub/big`, { method: 'POST', agent: false, headers: { 'Content-Length': 10_000_000 } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) });
          req.destroy();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
      });
      req.flushHeaders();
    });
    assert.equal(reply.status, 413);
    assert.equal(jsonError(reply).error, 'payload_too_large');
  });

  test('/send refuses a message over the limit, in every encoding, with a JSON 413', async () => {
    const long = 'x'.repeat(1025);
    const form = multipart({ message: long });
    const bodies: [string, string | Buffer][] = [
      ['application/json', JSON.stringify({ message: long })],
      ['text/plain', long],
      ['application/x-www-form-urlencoded', `message=${long}`],
      [form.type, form.body],
      // Past the limit plus room for form framing: refused before it is parsed.
      ['application/x-www-form-urlencoded', `message=${'y'.repeat(1024 + 16 * 1024 + 1)}`],
    ];
    for (const [type, body] of bodies) {
      const reply = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': type }, body });
      assert.equal(reply.status, 413, `${type}: ${reply.text}`);
      assert.equal(jsonError(reply).error, 'payload_too_large');
    }
  });

  test('/send takes a message of exactly the limit inside its form framing', async () => {
    const form = multipart({ message: 'z'.repeat(1024), uid: 'someone' });
    const reply = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': form.type }, body: form.body });
    assert.equal(reply.status, 200, reply.text);
  });
});

describe('what node:http refuses is answered in JSON too', () => {
  const shortTimeouts = (s: Running['server']) => {
    s.headersTimeout = 1000;
    s.requestTimeout = 1000;
    s.keepAliveTimeout = 300;
  };
  const server = suiteServer({ holdTimeout: 1.2 }, { prepare: shortTimeouts });

  test('the defaults: headers within 10 s, a request within 30 s, idle keep-alive for 65 s, checked every second', async () => {
    const made = createHoldpushServer({ log: 'off' });
    try {
      assert.equal(made.server.headersTimeout, 10_000);
      assert.equal(made.server.requestTimeout, 30_000);
      assert.equal(made.server.keepAliveTimeout, 65_000);
      const internals = made.server as unknown as { connectionsCheckingInterval?: number; maxHeaderSize?: number };
      assert.equal(internals.connectionsCheckingInterval, 1000);
      assert.equal(internals.maxHeaderSize, 16 * 1024);
    } finally {
      await made.holdpush.close();
    }
  });

  test('headers over 16 KiB get a JSON 431; just under is served', async () => {
    const over = await request(`${server.url}/healthz`, { headers: { 'X-Big': 'b'.repeat(17 * 1024) } });
    assert.equal(over.status, 431);
    assert.equal(jsonError(over).error, 'headers_too_large');
    const under = await request(`${server.url}/healthz`, { headers: { 'X-Big': 'b'.repeat(15 * 1024) } });
    assert.equal(under.status, 200);
  });

  test('a slowloris client is cut at headersTimeout with a JSON 408', async () => {
    const text = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(100)}\r\n\r\n`);
    const segments = Array.from(text, (byte) => Buffer.from([byte]));
    const outcome = await sendRaw(server.port, { lane: 'raw', segments, gapMs: 50, end: true, label: 'slowloris' }, 6000);
    assert.ok(outcome.closedByServer, 'the server closed the connection');
    assert.ok(outcome.ms >= 900 && outcome.ms < 3500, `cut after ${outcome.ms} ms`);
    assert.equal(outcome.responses.length, 1);
    const answer = outcome.responses[0] as (typeof outcome.responses)[number];
    assert.equal(answer.status, 408);
    assert.equal(judge('GET', answer), undefined);
  });

  test('a connection that never sends a byte is closed too', async () => {
    const outcome = await raw(server.port, Buffer.alloc(0), { end: false, ms: 8000 });
    assert.ok(outcome.closedByServer && outcome.error === undefined, `closed by the server after ${outcome.ms} ms`);
    assert.ok(outcome.ms < 6000, `after ${outcome.ms} ms`);
  });

  test('a held long-poll outlives requestTimeout: only holdpush answers it, with its 408', async () => {
    const started = Date.now();
    const reply = await request(`${server.url}/sub/patient`);
    assert.equal(reply.status, 408);
    assert.equal(jsonError(reply).error, 'timeout');
    assert.ok(reply.headers.etag, 'a 408 carries the position');
    assert.ok(Date.now() - started >= 1000, 'held past requestTimeout');
  });

  test('an idle keep-alive socket is closed by keepAliveTimeout', async () => {
    const outcome = await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { end: false, ms: 6000 });
    assert.equal(outcome.responses[0]?.status, 200);
    assert.ok(outcome.closedByServer, 'closed by the server');
    // Node closes at keepAliveTimeout (300 ms here), some versions plus a 1 s buffer.
    assert.ok(outcome.ms >= 250 && outcome.ms < 3000, `closed after ${outcome.ms} ms`);
  });

  test('garbage gets a JSON 400, and a client that keeps its half open is closed all the same', async () => {
    const outcome = await raw(server.port, '\x16\x03\x01\x02\x00garbage\r\n\r\n', { end: false, ms: 8000 });
    assert.equal(outcome.responses.length, 1);
    const answer = outcome.responses[0] as (typeof outcome.responses)[number];
    assert.equal(answer.status, 400);
    assert.equal(judge('GET', answer), undefined);
    assert.ok(outcome.closedByServer && outcome.error === undefined, 'closed by the server');
    assert.ok(outcome.ms < 5000, `after ${outcome.ms} ms`);
    const health = await request(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('a refused request whose body keeps coming still gets its answer (lingering close)', async () => {
    const outcome = await raw(server.port, Buffer.concat([Buffer.from('get /pub/x HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n'), Buffer.alloc(200_000, 120)]));
    assert.equal(outcome.responses[0]?.status, 400);
    assert.equal(judge('GET', outcome.responses[0] as (typeof outcome.responses)[number]), undefined);
  });

  test('Expect other than 100-continue gets a JSON 417; 100-continue goes on', async () => {
    const refused = await request(`${server.url}/pub/expect`, { method: 'POST', headers: { Expect: 'teapot' }, body: 'x' });
    assert.equal(refused.status, 417);
    assert.equal(jsonError(refused).error, 'expectation_failed');
    const accepted = await raw(server.port, 'POST /pub/expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    assert.deepEqual(accepted.responses.map((r) => r.status), [202]);
  });

  test('an HTTP/1.1 request without Host is served (holdpush never reads it), never a bare 400', async () => {
    const outcome = await raw(server.port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.equal(outcome.responses[0]?.status, 200);
  });
});

describe('channels with no messages and no subscribers are forgotten', () => {
  const server = suiteServer({ holdTimeout: 0.3, messageTtl: 0.3 });

  const channels = () => server.holdpush.stats().channels;

  test('the last subscriber leaving forgets the channel: GET /pub/<ch> is 404 again', async () => {
    const base = channels();
    const one = holdOpen(`${server.url}/sub/ghost`);
    await held(server, 1);
    assert.equal(channels(), base + 1);
    const info = await request(`${server.url}/pub/ghost`);
    assert.equal(info.status, 200);
    assert.match(info.text, /active subscribers: 1\r\n/);
    one.drop();
    assert.equal(await one.done, 'aborted');
    await held(server, 0);
    await waitFor(() => channels() === base, 2000, 'the channel forgotten');
    const gone = await request(`${server.url}/pub/ghost`);
    assert.equal(gone.status, 404);
    assert.equal(jsonError(gone).error, 'not_found');
  });

  test('a long-poll that times out, a stream the client closes, a batch poll: none leaves a channel', async () => {
    const base = channels();
    const timedOut = await request(`${server.url}/sub/ghost-408`);
    assert.equal(timedOut.status, 408);
    const batch = await request(`${server.url}/sub/ghost-batch`, { headers: { Accept: 'application/json' } });
    assert.equal(batch.status, 204);
    const stream = await openEventStream(`${server.url}/sub/ghost-stream`);
    await held(server, 1);
    stream.close();
    await held(server, 0);
    await waitFor(() => channels() === base, 2000, 'channels back to the baseline');
  });

  test('a channel that only held messages is forgotten once they expire', async () => {
    const base = channels();
    const expiredBefore = server.holdpush.stats().messages.expired;
    const sent = await request(`${server.url}/pub/ghost-messages`, { method: 'POST', body: 'short-lived' });
    assert.equal(sent.status, 202);
    assert.equal(channels(), base + 1);
    assert.match((await request(`${server.url}/pub/ghost-messages`)).text, /queued messages: 1\r\n/);
    await waitFor(() => channels() === base, 3000, 'the channel forgotten after its message expired');
    assert.ok(server.holdpush.stats().messages.expired > expiredBefore);
    assert.equal((await request(`${server.url}/pub/ghost-messages`)).status, 404);
  });

  test('300 channels subscribed and dropped leave none behind', async () => {
    const patient = await startServer({ holdTimeout: 10 });
    try {
      const polls = Array.from({ length: 300 }, (_, i) => holdOpen(`${patient.url}/sub/many-${i}`));
      await held(patient, 300);
      assert.equal(patient.holdpush.stats().channels, 300);
      for (const poll of polls) poll.drop();
      assert.deepEqual(new Set(await Promise.all(polls.map((poll) => poll.done))), new Set(['aborted']));
      await held(patient, 0);
      await waitFor(() => patient.holdpush.stats().channels === 0, 3000, `channels back to 0 (now ${patient.holdpush.stats().channels})`);
    } finally {
      await patient.close();
    }
  });
});

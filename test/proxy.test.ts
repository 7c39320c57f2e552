/**
 * Behind real nginx: the documented `location` block, run as written apart
 * from its upstream port and read timeout, in front of holdpush. Default flags refuse publishers
 * that come through it; `--trust-proxy loopback` lets `--publish-allow` judge the client nginx
 * names; the publish token works through it; long-poll, EventSource and batch pass through it,
 * and holdpush answers a held poll before nginx gives up on it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { cliDefaults } from '../lib/cli/flags';
import { type RequestOptions, errorOf, held, multipart, openStream, request as plainRequest, until } from './support/http';
import { serve } from './support/servers';
import { type Nginx, startNginx } from './support/nginx';

const T = { timeout: 15_000 };
const ROOT = join(__dirname, '..');
const EXAMPLE = readFileSync(join(ROOT, 'examples', 'nginx.conf'), 'utf8');
/** What the docs put before each copy of the example. */
const MARKER = '<!-- The block below is examples/nginx.conf; test/proxy.test.ts checks that it is. -->';
/** Hold timeout of the servers below: each held poll is owed its 408 within about a second. */
const HOLD = 1;

/** The longest any request below may wait for the answer it is owed. */
const OWED_MS = 2000;

/** A request that fails, rather than waits, when its answer takes more than OWED_MS. */
function request(url: string, options: RequestOptions = {}) {
  return plainRequest(url, { ...options, signal: AbortSignal.timeout(OWED_MS) });
}

/** `text` with `from` replaced, failing loudly when the example no longer says `from` exactly once. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0 && text.indexOf(from, at + 1) < 0, `examples/nginx.conf says ${JSON.stringify(from)} once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** The documented block, pointed at `upstream` and with a read timeout scaled to the short hold. */
function exampleFor(upstream: number, readTimeout = '1500ms'): string {
  const pointed = replaceOnce(EXAMPLE, 'proxy_pass http://127.0.0.1:8888/;', `proxy_pass http://127.0.0.1:${upstream}/;`);
  return replaceOnce(pointed, 'proxy_read_timeout 60s;', `proxy_read_timeout ${readTimeout};`);
}

async function proxy(t: TestContext, upstream: number, readTimeout?: string): Promise<Nginx> {
  const nginx = await startNginx(exampleFor(upstream, readTimeout));
  t.after(() => nginx.stop());
  return nginx;
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return request(url, { method: 'POST', body, headers });
}

test('the README and docs/deploying.md show examples/nginx.conf as it is, and no other nginx config', () => {
  for (const file of ['README.md', join('docs', 'deploying.md')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const copies = text.split(MARKER).slice(1);
    assert.ok(copies.length >= 1, `${file} shows the example after its marker`);
    for (const copy of copies) {
      const block = /^\n```nginx\n([\s\S]*?)```\n/.exec(copy);
      assert.ok(block, `${file}: an nginx block follows the marker`);
      assert.equal(block[1], EXAMPLE, `${file}'s copy is examples/nginx.conf`);
    }
    assert.equal(text.split('```nginx').length - 1, copies.length, `${file} has no nginx block besides the example`);
  }
});

test("the example's proxy_read_timeout is above holdpush's default hold timeout", () => {
  const read = /proxy_read_timeout (\d+)s;/.exec(EXAMPLE);
  assert.ok(read, 'the example sets proxy_read_timeout in seconds');
  assert.ok(cliDefaults.holdTimeout < Number(read[1]), `--hold-timeout ${cliDefaults.holdTimeout} < proxy_read_timeout ${read[1]}`);
  // The tests below keep the same order at a small scale.
  assert.ok(HOLD < 1.5);
});

test('default flags behind the example: publishing through nginx is refused, naming the two fixes', T, async (t) => {
  const s = await serve(t);
  const nginx = await proxy(t, s.port);
  const attempts: Record<string, string>[] = [{}, { 'X-Forwarded-For': '127.0.0.1' }];
  for (const headers of attempts) {
    const reply = await post(`${nginx.url}/push/pub/news`, 'from the internet', headers);
    assert.equal(reply.status, 403, reply.text);
    const body = errorOf(reply);
    assert.equal(body.error, 'forbidden');
    assert.match(body.message, /--publish-token/);
    assert.match(body.message, /--trust-proxy/);
  }
  assert.equal((await request(`${nginx.url}/push/pub/news`, { method: 'DELETE' })).status, 403);
  const form = multipart({ message: 'hi' });
  const sent = await request(`${nginx.url}/push/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } });
  assert.equal(sent.status, 403);
  assert.equal(s.holdpush.stats().messages.published, 0);
  // The same publisher straight to holdpush, on loopback, may: it was the proxy that was refused.
  assert.equal((await post(`${s.url}/pub/news`, 'local')).status, 202);
});

test('--trust-proxy loopback: --publish-allow judges the client nginx names, and the log shows it', T, async (t) => {
  const lines: string[] = [];
  // Outside loopback, so that an allowed publish can only be the forwarded address's doing.
  const s = await serve(t, { trustProxy: ['loopback'], publishAllow: ['198.51.100.0/24'], log: 'json', logWrite: (line) => lines.push(line) });
  const nginx = await proxy(t, s.port);
  // nginx appends its peer (127.0.0.1, trusted) to what the client sent: the client is the
  // right-most address before it that is not a trusted proxy.
  const cases = [
    { sent: '198.51.100.7', client: '198.51.100.7', status: 202 },
    { sent: '203.0.113.9', client: '203.0.113.9', status: 403 },
    { sent: undefined, client: '127.0.0.1', status: 403 },
    // A client cannot hide behind an address it claims: the hop nginx saw is right of it.
    { sent: '198.51.100.7, 203.0.113.9', client: '203.0.113.9', status: 403 },
  ];
  for (const { sent, status } of cases) {
    const reply = await post(`${nginx.url}/push/pub/news`, 'x', sent === undefined ? {} : { 'X-Forwarded-For': sent });
    assert.equal(reply.status, status, `X-Forwarded-For ${sent}: ${reply.text}`);
    if (status === 403) assert.match(errorOf(reply).message, /--publish-allow/);
  }
  assert.equal(s.holdpush.stats().messages.published, 1);
  await until(() => lines.length === cases.length, OWED_MS, 'a log line per request');
  assert.deepEqual(
    lines.map((line) => (JSON.parse(line) as { address: string }).address),
    cases.map((c) => c.client),
  );
});

test('the documented flags (--trust-proxy loopback, default --publish-allow): a client on the internet may not publish', T, async (t) => {
  const s = await serve(t, { trustProxy: ['loopback'] });
  const nginx = await proxy(t, s.port);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x', { 'X-Forwarded-For': '203.0.113.9' })).status, 403);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x', { 'X-Forwarded-For': '203.0.113.9, 127.0.0.1' })).status, 403);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x')).status, 202, 'a publisher on the proxy host still may');
});

test('the publish token works through nginx, whatever --trust-proxy says', T, async (t) => {
  const token = 'proxy-test-token';
  const s = await serve(t, { publishToken: token });
  const nginx = await proxy(t, s.port);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x', { Authorization: `Bearer ${token}` })).status, 202);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x')).status, 401);
  assert.equal((await post(`${nginx.url}/push/pub/news`, 'x', { Authorization: 'Bearer wrong' })).status, 401);
  const form = multipart({ message: 'hi', token });
  const sent = await request(`${nginx.url}/push/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } });
  assert.equal(sent.status, 200, sent.text);
  assert.equal(s.holdpush.stats().messages.published, 2);
});

test('long-poll, EventSource and batch through nginx; a held poll gets holdpush\'s 408, not nginx\'s 504', T, async (t) => {
  const s = await serve(t, { trustProxy: ['loopback'], holdTimeout: HOLD });
  const nginx = await proxy(t, s.port);
  const channel = `${nginx.url}/push/sub/news`;

  const poll = request(channel);
  await held(s, 1);
  const first = await s.holdpush.publish('news', 'one');
  const polled = await poll;
  assert.equal(polled.status, 200);
  assert.equal(polled.text, 'one');
  const etag = polled.headers.etag;
  assert.equal(typeof etag, 'string');

  // Unbuffered: the event reaches the client while the stream is still open.
  const stream = openStream(channel);
  t.after(() => stream.close());
  await held(s, 1);
  const second = await s.holdpush.publish('news', 'two');
  await stream.waitFor(`id: ${second.id}\ndata: two\n\n`, OWED_MS);
  assert.equal(s.holdpush.stats().held.stream, 1, 'the stream is still open');
  stream.close();
  await held(s, 0);

  const batch = await request(`${channel}?last_event_id=${encodeURIComponent(first.id)}`, { headers: { Accept: 'application/json' } });
  assert.equal(batch.status, 200);
  assert.deepEqual(
    (batch.json() as { messages: { id: string; data: string }[] }).messages.map((m) => [m.id, m.data]),
    [[second.id, 'two']],
  );

  const timedOut = await request(channel, { headers: { 'If-None-Match': (await s.holdpush.publish('news', 'three')).id } });
  assert.equal(timedOut.status, 408, timedOut.text);
  assert.equal(errorOf(timedOut).error, 'timeout');
});

test('the order matters: with proxy_read_timeout under the hold timeout, nginx answers 504 first', T, async (t) => {
  const s = await serve(t, { trustProxy: ['loopback'], holdTimeout: HOLD });
  const nginx = await proxy(t, s.port, '300ms');
  const reply = await request(`${nginx.url}/push/sub/news`);
  assert.equal(reply.status, 504);
  assert.match(nginx.errors(), /upstream timed out/);
});

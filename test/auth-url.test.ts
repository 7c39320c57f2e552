/**
 * `--auth-url`: a real node:http app decides who may subscribe and publish, in every mode;
 * what it is asked (header by header), what is cached, and what happens when it cannot
 * answer (docs/authorization.md).
 */
import assert from 'node:assert/strict';
import { Agent, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect, createServer as createNetServer } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { createHoldpush, createHoldpushServer, signJwt } from '../lib/index';
import { type AuthApp, CHALLENGE, byCookie, eventStream, startAuthApp } from './support/auth-app';
import { send } from './support/cluster-run';
import { errorOf } from './support/http';
import { serve } from './support/servers';
import { type Reply, type Running, freePort, held, multipart, request, until } from './support/http';

const T = { timeout: 20_000 };
const JSON_TYPE = 'application/json; charset=utf-8';
const ALICE = { Cookie: 'session=alice' };
const MALLORY = { Cookie: 'session=mallory' };
const BATCH = { Accept: 'application/json' };
const SSE = { Accept: 'text/event-stream' };

async function setup(t: TestContext, options: Parameters<typeof serve>[1] = {}): Promise<{ app: AuthApp; s: Running }> {
  const app = await startAuthApp();
  t.after(() => app.close());
  const s = await serve(t, { authUrl: app.url, holdTimeout: 5, ...options });
  return { app, s };
}

/** The op, channels, URI and method of the app's last question. */
function lastQuestion(app: AuthApp): [unknown, unknown, unknown, unknown] {
  const headers = app.questions[app.questions.length - 1]?.headers ?? {};
  return [headers['x-holdpush-op'], headers['x-holdpush-channels'], headers['x-original-uri'], headers['x-original-method']];
}

function assertRefused(reply: Reply, status: 401 | 403, what: string): void {
  assert.equal(reply.status, status, `${what}: ${reply.text}`);
  assert.equal(reply.headers['content-type'], JSON_TYPE, what);
  assert.equal(errorOf(reply).error, status === 401 ? 'unauthorized' : 'forbidden', what);
  assert.equal(reply.headers['www-authenticate'], status === 401 ? CHALLENGE : undefined, what);
}

function assertUnavailable(reply: Reply, started: number, timeoutMs: number, what: string): void {
  assert.equal(reply.status, 503, `${what}: ${reply.text}`);
  assert.equal(reply.headers['retry-after'], '2', what);
  assert.equal(errorOf(reply).error, 'auth_unavailable', what);
  assert.ok(Date.now() - started < timeoutMs + 1000, `${what}: answered after ${Date.now() - started} ms`);
}

describe('--auth-url: the app decides every subscription', () => {
  test('long-poll, batch, EventSource and the uid face: allowed with the cookie, the app\'s 401 (with its challenge) and 403 otherwise, never held when refused', T, async (t) => {
    const { app, s } = await setup(t, { authCache: 0 });
    await s.holdpush.publish('news', 'first');

    const poll = await request(`${s.url}/sub/news`, { headers: ALICE });
    assert.equal(poll.status, 200);
    assert.equal(poll.text, 'first');
    assert.deepEqual(lastQuestion(app), ['subscribe', 'news', '/sub/news', 'GET']);

    const batch = await request(`${s.url}/sub/news?x=1`, { headers: { ...ALICE, ...BATCH } });
    assert.equal(batch.status, 200);
    assert.deepEqual((batch.json() as { messages: { data: string }[] }).messages.map((m) => m.data), ['first']);
    assert.deepEqual(lastQuestion(app), ['subscribe', 'news', '/sub/news?x=1', 'GET']);

    const stream = eventStream(`${s.url}/sub/news`, ALICE);
    assert.equal(await stream.status, 200);
    await stream.waitFor('data: first');
    assert.deepEqual(lastQuestion(app), ['subscribe', 'news', '/sub/news', 'GET']);
    stream.close();
    await held(s, 0);

    const seed = request(`${s.url}/?uid=alice`, { headers: ALICE });
    await held(s, 1);
    assert.deepEqual(lastQuestion(app), ['subscribe', 'uid:alice', '/?uid=alice', 'GET']);
    await s.holdpush.publish('uid:alice', 'for alice');
    assert.equal((await seed).text, 'for alice');

    for (const [mode, path, headers] of [
      ['long-poll', '/sub/news', {}],
      ['batch', '/sub/news', BATCH],
      ['EventSource', '/sub/news', SSE],
      ['uid face', '/?uid=alice', {}],
    ] as const) {
      assertRefused(await request(`${s.url}${path}`, { headers }), 401, `${mode} without a cookie`);
      assertRefused(await request(`${s.url}${path}`, { headers: { ...headers, ...MALLORY } }), 403, `${mode} as mallory`);
      assert.equal(s.holdpush.stats().held.total, 0, mode);
    }
    assert.equal(app.questions.length, 4 + 8);
  });

  test('the app is asked with exactly the request\'s Cookie, Authorization and User-Agent and holdpush\'s own headers, one by one', T, async (t) => {
    const { app, s } = await setup(t);
    await s.holdpush.publish('a', 'x');
    const reply = await request(`${s.url}/sub/a,b?x=1&y=%20`, {
      headers: {
        Cookie: 'session=alice; theme=dark',
        Authorization: 'Basic YWxpY2U6cHc=',
        'User-Agent': 'holdpush-test/1',
        'X-Private': 'not for the app',
        Referer: 'http://127.0.0.1/page',
        Accept: 'application/json',
        'Last-Event-ID': '',
      },
    });
    assert.equal(reply.status, 200);
    assert.equal(app.questions.length, 1);
    const question = app.questions[0] as AuthApp['questions'][number];
    assert.equal(question.method, 'GET');
    assert.equal(question.url, '/auth?from=holdpush');
    const { headers } = question;
    assert.equal(headers.cookie, 'session=alice; theme=dark');
    assert.equal(headers.authorization, 'Basic YWxpY2U6cHc=');
    assert.equal(headers['user-agent'], 'holdpush-test/1');
    assert.equal(headers['x-holdpush-op'], 'subscribe');
    assert.equal(headers['x-holdpush-channels'], 'a,b');
    assert.equal(headers['x-original-uri'], '/sub/a,b?x=1&y=%20');
    assert.equal(headers['x-original-method'], 'GET');
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.deepEqual(question.names.map((name) => name.toLowerCase()).sort(), [
      'authorization', 'connection', 'cookie', 'host', 'user-agent',
      'x-forwarded-for', 'x-holdpush-channels', 'x-holdpush-op', 'x-original-method', 'x-original-uri',
    ]);

    // Nothing the client did not send is made up.
    await request(`${s.url}/sub/a`);
    const bare = app.questions[1] as AuthApp['questions'][number];
    assert.deepEqual(bare.names.map((name) => name.toLowerCase()).sort(), ['connection', 'host', 'x-forwarded-for', 'x-holdpush-channels', 'x-holdpush-op', 'x-original-method', 'x-original-uri']);
  });

  test('X-Forwarded-For is the client address: the peer, or with --trust-proxy the address the proxy forwarded', T, async (t) => {
    const { app, s } = await setup(t, { authCache: 0 });
    const behind = await serve(t, { authUrl: app.url, authCache: 0, trustProxy: ['loopback'] });
    await request(`${s.url}/sub/news`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    assert.equal(app.questions.at(-1)?.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted proxy\'s header is not believed');
    await request(`${behind.url}/sub/news`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    assert.equal(app.questions.at(-1)?.headers['x-forwarded-for'], '203.0.113.7');
  });
});

describe('--auth-url: the app decides every publish', () => {
  test('/pub (every method), /send as JSON and from the browser form: allowed and refused; a refused publish publishes nothing', T, async (t) => {
    const { app, s } = await setup(t, { authCache: 0 });

    assert.equal((await request(`${s.url}/pub/news`, { method: 'POST', body: 'one', headers: ALICE })).status, 202);
    assert.deepEqual(lastQuestion(app), ['publish', 'news', '/pub/news', 'POST']);
    assert.equal((await request(`${s.url}/pub/news`, { method: 'PUT', body: 'two', headers: ALICE })).status, 202);
    assert.deepEqual(lastQuestion(app), ['publish', 'news', '/pub/news', 'PUT']);
    assert.equal((await request(`${s.url}/pub/news`, { headers: ALICE })).status, 200);
    assert.deepEqual(lastQuestion(app), ['publish', 'news', '/pub/news', 'GET']);
    assertRefused(await request(`${s.url}/pub/news`, { method: 'POST', body: 'no' }), 401, '/pub without a cookie');
    assertRefused(await request(`${s.url}/pub/news`, { method: 'POST', body: 'no', headers: MALLORY }), 403, '/pub as mallory');
    assertRefused(await request(`${s.url}/pub/news`, { method: 'DELETE', headers: MALLORY }), 403, 'DELETE as mallory');
    assert.deepEqual(lastQuestion(app), ['publish', 'news', '/pub/news', 'DELETE']);
    assert.equal(s.holdpush.stats().messages.published, 2);

    const json = { 'Content-Type': 'application/json' };
    const everyone = await request(`${s.url}/send`, { method: 'POST', body: '{"message": "hi all"}', headers: { ...json, ...ALICE } });
    assert.equal(everyone.status, 200);
    assert.deepEqual(lastQuestion(app), ['publish', 'uid:*', '/send', 'POST']);
    assertRefused(await request(`${s.url}/send`, { method: 'POST', body: '{"message": "hi bob", "uid": "bob"}', headers: { ...json, ...MALLORY } }), 403, '/send as mallory');
    assert.deepEqual(lastQuestion(app), ['publish', 'uid:bob', '/send', 'POST']);
    assertRefused(await request(`${s.url}/send?uid=bob`, { method: 'POST', body: 'hi bob', headers: { 'Content-Type': 'text/plain' } }), 401, '/send without a cookie');
    assert.deepEqual(lastQuestion(app), ['publish', 'uid:bob', '/send?uid=bob', 'POST']);

    // The browser form: the answer is a redirect back to the page, which shows what happened.
    const form = multipart({ message: 'from the form', uid: 'bob' });
    const page = { 'Content-Type': form.type, Accept: 'text/html' };
    const sent = await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: { ...page, ...ALICE } });
    assert.equal(sent.status, 303);
    assert.match(String(sent.headers.location), /^\/send\?sent=\d+%3A/);
    const refused = await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: page });
    assert.equal(refused.status, 303);
    assert.match(String(refused.headers.location), /^\/send\?error=unauthorized&message=/);
    assert.equal(s.holdpush.stats().messages.published, 4);
  });

  test('a valid publish token is settled without asking; without it, the app decides even on loopback and whatever --publish-allow says', T, async (t) => {
    const { app, s } = await setup(t, { publishToken: 'pub-token', authCache: 0 });
    assert.equal((await request(`${s.url}/pub/c`, { method: 'POST', body: 'x', headers: { Authorization: 'Bearer pub-token' } })).status, 202);
    const form = multipart({ message: 'with the token field', token: 'pub-token' });
    assert.equal((await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } })).status, 200);
    assert.equal(app.questions.length, 0);

    assertRefused(await request(`${s.url}/pub/c`, { method: 'POST', body: 'x' }), 401, 'loopback without a token or a cookie');
    const wrong = await request(`${s.url}/pub/c`, { method: 'POST', body: 'x', headers: { Authorization: 'Bearer wrong', ...ALICE } });
    assert.equal(wrong.status, 202, 'a wrong token is not a refusal: the app is asked, and alice may');
    assert.equal(app.questions.at(-1)?.headers.authorization, 'Bearer wrong');
    assert.equal(app.questions.length, 2);

    const open = await serve(t, { authUrl: app.url, publishAllow: ['127.0.0.0/8', '::1'] });
    assertRefused(await request(`${open.url}/pub/c`, { method: 'POST', body: 'x' }), 401, '--publish-allow alone');
    assert.equal(open.holdpush.stats().messages.published, 0);
  });

  test('with --subscribe-secret both must allow: the JWT first (the app is not asked when it refuses), then the app', T, async (t) => {
    const secret = 'subscribe-secret';
    const { app, s } = await setup(t, { subscribeSecret: secret, authCache: 0 });
    await s.holdpush.publish('news', 'x');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const news = signJwt({ holdpush: { subscribe: ['news'] }, exp }, secret);
    const other = signJwt({ holdpush: { subscribe: ['other'] }, exp }, secret);

    const noJwt = await request(`${s.url}/sub/news`, { headers: ALICE });
    assert.equal(noJwt.status, 401);
    assert.match(String(noJwt.headers['www-authenticate']), /^Bearer/);
    assert.equal((await request(`${s.url}/sub/news?token=${other}`, { headers: ALICE })).status, 403);
    assert.equal(app.questions.length, 0);

    assertRefused(await request(`${s.url}/sub/news?token=${news}`, { headers: MALLORY }), 403, 'a good JWT, a refused cookie');
    assert.equal((await request(`${s.url}/sub/news?token=${news}`, { headers: ALICE })).status, 200);
    assert.equal(app.questions.length, 2);
  });
});

describe('--auth-url: the cache', () => {
  test('100 re-polls with one cookie ask the app once; /stats and /metrics count the question and the hits', T, async (t) => {
    const { app, s } = await setup(t);
    await s.holdpush.publish('news', 'm');
    for (let i = 0; i < 100; i++) assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
    assert.equal(app.questions.length, 1);
    assert.deepEqual(s.holdpush.stats().auth, { allow: 1, deny: 0, error: 0, cacheHits: 99 });
    const metrics = (await request(`${s.url}/metrics`)).text;
    assert.match(metrics, /^# TYPE holdpush_auth_requests_total counter$/m);
    assert.match(metrics, /^holdpush_auth_requests_total\{result="allow"\} 1$/m);
    assert.match(metrics, /^holdpush_auth_requests_total\{result="deny"\} 0$/m);
    assert.match(metrics, /^holdpush_auth_requests_total\{result="error"\} 0$/m);
    assert.match(metrics, /^# TYPE holdpush_auth_cache_hits_total counter$/m);
    assert.match(metrics, /^holdpush_auth_cache_hits_total 99$/m);
  });

  test('the app\'s max-age=0, no-store and no-cache, and --auth-cache 0, ask every time; its max-age=N keeps longer than --auth-cache', T, async (t) => {
    const { app, s } = await setup(t, { authCache: 0.001 });
    await s.holdpush.publish('news', 'm');
    for (const cacheControl of ['max-age=0', 'no-store', 'private, no-cache']) {
      app.answer = byCookie({ 'Cache-Control': cacheControl });
      const before = app.questions.length;
      for (let i = 0; i < 5; i++) assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
      assert.equal(app.questions.length - before, 5, cacheControl);
    }
    app.answer = byCookie({ 'Cache-Control': 'private, max-age=60' });
    const before = app.questions.length;
    for (let i = 0; i < 5; i++) assert.equal((await request(`${s.url}/sub/news`, { headers: { Cookie: 'session=bob' } })).status, 200);
    assert.equal(app.questions.length - before, 1, 'max-age=60 outlives --auth-cache 0.001');

    const never = await serve(t, { authUrl: app.url, authCache: 0 });
    await never.holdpush.publish('news', 'm');
    const from = app.questions.length;
    for (let i = 0; i < 5; i++) assert.equal((await request(`${never.url}/sub/news`, { headers: ALICE })).status, 200);
    assert.equal(app.questions.length - from, 5, '--auth-cache 0 asks every time, whatever the app says');
  });

  test('1,000 identical first requests at once ask the app once, and all get its answer', { timeout: 30_000 }, async (t) => {
    const app = await startAuthApp();
    t.after(() => app.close());
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const decide = byCookie();
    app.answer = (req, res) => void released.then(() => decide(req, res));
    const { server, holdpush } = createHoldpushServer({ authUrl: app.url, log: 'off' });
    let arrived = 0;
    server.on('request', () => {
      arrived += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
    t.after(async () => {
      agent.destroy();
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await holdpush.publish('news', 'm');

    const replies = Array.from({ length: 1000 }, () => send(`${url}/sub/news`, { agent, headers: ALICE, timeout: 60_000 }));
    await until(() => arrived === 1000, 20_000, '1000 requests at holdpush');
    assert.equal(app.questions.length, 1);
    release();
    const answers = await Promise.all(replies);
    assert.deepEqual(new Set(answers.map((reply) => `${reply.status} ${reply.text}`)), new Set(['200 m']));
    assert.equal(app.questions.length, 1);
    assert.deepEqual(holdpush.stats().auth, { allow: 1, deny: 0, error: 0, cacheHits: 999 });
  });

  test('after --auth-cache has passed, the app is asked again', T, async (t) => {
    const { app, s } = await setup(t, { authCache: 0.3 });
    await s.holdpush.publish('news', 'm');
    assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
    assert.equal(app.questions.length, 1);
    // Each subscribe is answered (200); once the cached answer has expired one of them asks the app.
    await until(
      async () => {
        assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
        return app.questions.length >= 2;
      },
      5000,
      'the app to be asked again',
    );
    assert.equal(app.questions.length, 2);
  });

  test('a denial is kept too: mallory stays refused without a call, and a kept 401 replays the app\'s WWW-Authenticate', T, async (t) => {
    const { app, s } = await setup(t);
    for (let i = 0; i < 20; i++) assertRefused(await request(`${s.url}/sub/news`, { headers: MALLORY }), 403, `mallory ${i}`);
    for (let i = 0; i < 5; i++) assertRefused(await request(`${s.url}/sub/news`), 401, `anonymous ${i}`);
    assert.equal(app.questions.length, 2);
    assert.deepEqual(s.holdpush.stats().auth, { allow: 0, deny: 2, error: 0, cacheHits: 23 });
    assert.equal(s.holdpush.stats().held.total, 0);
  });

  test('op, method, channels, Cookie and Authorization each make another question; other headers do not', T, async (t) => {
    const { app, s } = await setup(t);
    await s.holdpush.publish('news', 'm');
    await s.holdpush.publish('sport', 'm');
    const ask = async (path: string, headers: Record<string, string>, method = 'GET') => {
      const before = app.questions.length;
      await request(`${s.url}${path}`, { method, headers, body: method === 'POST' ? 'x' : undefined });
      return app.questions.length - before;
    };
    assert.equal(await ask('/sub/news', ALICE), 1);
    assert.equal(await ask('/sub/news?other=query', { ...ALICE, 'User-Agent': 'another', Accept: 'application/json' }), 0);
    assert.equal(await ask('/sub/sport', ALICE), 1);
    assert.equal(await ask('/sub/news,sport', ALICE), 1);
    assert.equal(await ask('/sub/news', { Cookie: 'session=bob' }), 1);
    assert.equal(await ask('/sub/news', { ...ALICE, Authorization: 'Bearer x' }), 1);
    assert.equal(await ask('/pub/news', ALICE), 1);
    assert.equal(await ask('/pub/news', ALICE, 'POST'), 1);
    assert.equal(await ask('/pub/news', ALICE, 'POST'), 0);
  });
});

describe('--auth-url: when the app cannot decide', () => {
  /** Every kind of request once; each must be 503 with Retry-After within the timeout plus 1 s. */
  async function everyKind(s: Running, timeoutMs: number, what: string): Promise<void> {
    const json = { 'Content-Type': 'application/json' };
    for (const [kind, path, options] of [
      ['long-poll', '/sub/news', { headers: ALICE }],
      ['batch', '/sub/news', { headers: { ...ALICE, ...BATCH } }],
      ['EventSource', '/sub/news', { headers: { ...ALICE, ...SSE } }],
      ['uid face', '/?uid=alice', { headers: ALICE }],
      ['/pub', '/pub/news', { method: 'POST', body: 'x', headers: ALICE }],
      ['/send', '/send', { method: 'POST', body: '{"message": "x"}', headers: { ...ALICE, ...json } }],
    ] as const) {
      const started = Date.now();
      assertUnavailable(await request(`${s.url}${path}`, options), started, timeoutMs, `${what}: ${kind}`);
    }
    assert.equal(s.holdpush.stats().held.total, 0, `${what}: nobody held`);
    assert.equal(s.holdpush.stats().messages.published, 0, `${what}: nothing published`);
  }

  test('an app that is down: 503 with Retry-After in every mode, nothing held or published; once it is up it is asked again, without a restart', T, async (t) => {
    const port = await freePort();
    const s = await serve(t, { authUrl: `http://127.0.0.1:${port}/auth`, authTimeout: 0.3 });
    await everyKind(s, 300, 'down');
    assert.equal(s.holdpush.stats().auth.error, 6);

    const app = await startAuthApp(port);
    t.after(() => app.close());
    assert.equal((await request(`${s.url}/pub/news`, { method: 'POST', body: 'back', headers: ALICE })).status, 202);
    const poll = await request(`${s.url}/sub/news`, { headers: ALICE });
    assert.equal(poll.status, 200);
    assert.equal(poll.text, 'back');
  });

  test('an app slower than --auth-timeout, or whose body does not end in time: 503 within the timeout plus 1 s; a failure is never kept', T, async (t) => {
    const { app, s } = await setup(t, { authTimeout: 0.3 });
    app.answer = () => undefined;
    await everyKind(s, 300, 'silent');
    app.answer = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('a body that never ends');
    };
    await everyKind(s, 300, 'slow body');
    app.answer = byCookie();
    await s.holdpush.publish('news', 'm');
    assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
  });

  test('an app answering 500, 404 or a redirect: 503; the same cookie is allowed once the app answers 2xx', T, async (t) => {
    const { app, s } = await setup(t, { authTimeout: 0.3 });
    for (const [what, status, headers] of [
      ['500', 500, {}],
      ['404', 404, {}],
      ['a redirect', 302, { Location: '/login' }],
    ] as const) {
      app.answer = (_req, res) => res.writeHead(status, headers).end('nope');
      await everyKind(s, 300, what);
    }
    app.answer = byCookie();
    await s.holdpush.publish('news', 'm');
    assert.equal((await request(`${s.url}/sub/news`, { headers: ALICE })).status, 200);
    assert.equal(s.holdpush.stats().auth.error, 18);
  });

  test('a kept connection that the app closes just as it is reused: asked again on a new one, not a 503', T, async (t) => {
    // An app that answers the first question of each connection and drops the connection at the second.
    const questions: number[] = [];
    const sockets = new Set<Socket>();
    const app = createNetServer((socket) => {
      sockets.add(socket);
      let seen = 0;
      let buffered = '';
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        while (buffered.includes('\r\n\r\n')) {
          buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
          seen += 1;
          if (seen > 1) {
            socket.destroy();
            return;
          }
          questions.push(seen);
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok');
        }
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => app.close(() => resolve()));
    });
    const s = await serve(t, { authUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}/auth`, authCache: 0 });
    await s.holdpush.publish('news', 'm');
    for (let i = 0; i < 3; i++) {
      const reply = await request(`${s.url}/sub/news`, { headers: ALICE });
      assert.equal(reply.status, 200, `question ${i}: ${reply.text}`);
    }
    assert.equal(questions.length, 3);
    assert.equal(s.holdpush.stats().auth.error, 0);
  });

  test('a shutdown while the app is being asked answers 503 shutting_down at once, and nothing is held', T, async (t) => {
    const { app, s } = await setup(t, { authTimeout: 30 });
    app.answer = () => undefined;
    const waiting = request(`${s.url}/sub/news`, { headers: ALICE });
    await until(() => app.questions.length === 1, 5000, 'the question');
    const started = Date.now();
    await s.holdpush.close();
    const reply = await waiting;
    assert.equal(reply.status, 503);
    assert.equal(errorOf(reply).error, 'shutting_down');
    assert.ok(Date.now() - started < 1000);
    assert.equal(s.holdpush.stats().held.total, 0);
  });
});

describe('--auth-url: what never reaches the app', () => {
  test('a header with a CR is refused by the HTTP parser before anyone is asked', T, async (t) => {
    const { app, s } = await setup(t);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.write('GET /sub/news HTTP/1.1\r\nHost: x\r\nCookie: session=alice\rX-Evil: 1\r\n\r\n'));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(app.questions.length, 0);
  });

  test('over 12 KiB of Cookie, Authorization, User-Agent and URI: 431; a uid with a line break: 400; the app is not asked', T, async (t) => {
    const { app, s } = await setup(t);
    const big = await request(`${s.url}/sub/news`, { headers: { Cookie: `session=alice; pad=${'x'.repeat(12 * 1024)}` } });
    assert.equal(big.status, 431);
    assert.equal(errorOf(big).error, 'headers_too_large');
    const uid = await request(`${s.url}/send`, { method: 'POST', body: JSON.stringify({ message: 'x', uid: 'bob\r\nX-Evil: 1' }), headers: { 'Content-Type': 'application/json', ...ALICE } });
    assert.equal(uid.status, 400);
    assert.equal(app.questions.length, 0);
    assert.equal(s.holdpush.stats().messages.published, 0);
  });

  test('inside an app whose middleware rewrote a header into something node:http cannot send: 400, not a crash', T, async (t) => {
    const app = await startAuthApp();
    t.after(() => app.close());
    const holdpush = createHoldpush({ authUrl: app.url, log: 'off' });
    const server = createServer((req, res) => {
      const rewritten = req.headers['x-test-cookie'];
      if (typeof rewritten === 'string') req.headers.cookie = decodeURIComponent(rewritten);
      if (!holdpush.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const cookie of ['session=alice\r\nX-Evil: 1', 'session=alice\n', 'session=\u0100lice', 'session=alice\u0000']) {
      const reply = await request(`${url}/sub/news`, { headers: { 'X-Test-Cookie': encodeURIComponent(cookie) } });
      assert.equal(reply.status, 400, JSON.stringify(cookie));
      assert.equal(errorOf(reply).error, 'bad_request');
    }
    const huge = await request(`${url}/sub/news`, { headers: { 'X-Test-Cookie': encodeURIComponent(`session=alice; ${'x'.repeat(13_000)}`) } });
    assert.equal(huge.status, 431);
    assert.equal(app.questions.length, 0);
    // Latin-1 text is a header value node:http sends as it is.
    const latin = await request(`${url}/sub/news`, { headers: { 'X-Test-Cookie': encodeURIComponent('session=caf\u00e9') } });
    assert.equal(latin.status, 401);
    assert.equal(app.questions[0]?.headers.cookie, 'session=caf\u00e9');
  });
});

/**
 * The embedded twin of `--auth-url`: an `authorize` function decides in process, and
 * examples/express-session runs it on a real Express app with real sessions.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AuthorizeRequest, type AuthorizeResult, type Holdpush, createHoldpush, signJwt } from '../lib/index';
import { errorOf, serve } from './support/f2-helpers';
import { held, request, until } from './support/http';

const T = { timeout: 15_000 };
const ROOT = join(__dirname, '..');

/** An `authorize` that records what it was asked and answers with `decide`. */
function recorder(decide: (request: AuthorizeRequest) => AuthorizeResult | Promise<AuthorizeResult>) {
  const asked: AuthorizeRequest[] = [];
  return {
    asked,
    authorize: (request: AuthorizeRequest) => {
      asked.push(request);
      return decide(request);
    },
  };
}

/** Everything written to standard error while `run` runs (the server log of errors). */
async function stderrOf(run: () => Promise<void>): Promise<string> {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    await run();
  } finally {
    process.stderr.write = write;
  }
  return text;
}

describe('the authorize option', () => {
  test('is given the facts and the request itself; true allows, a refusal is the client\'s JSON error with its words and challenge', T, async (t) => {
    const hook = recorder(({ req }) => {
      const who = req.headers['x-user'];
      if (who === 'alice') return true;
      if (who === undefined) return { status: 401, message: 'sign in first', wwwAuthenticate: 'Cookie realm="app"' };
      return { status: 403, message: `${String(who)} may not`.padEnd(300, '!') };
    });
    const s = await serve(t, { authorize: hook.authorize });
    await s.holdpush.publish('news', 'hello');

    const allowed = await request(`${s.url}/sub/news?q=1`, { headers: { 'X-User': 'alice', Cookie: 'sid=1', Authorization: 'Basic eA==', 'User-Agent': 'ua/1' } });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.text, 'hello');
    const first = hook.asked[0] as AuthorizeRequest;
    const { req, ...facts } = first;
    assert.ok(req instanceof IncomingMessage);
    assert.equal(req.headers['x-user'], 'alice');
    assert.deepEqual(facts, {
      op: 'subscribe',
      channels: ['news'],
      cookie: 'sid=1',
      authorization: 'Basic eA==',
      userAgent: 'ua/1',
      uri: '/sub/news?q=1',
      method: 'GET',
      clientAddress: '127.0.0.1',
    });

    const anonymous = await request(`${s.url}/?uid=alice`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(errorOf(anonymous), { error: 'unauthorized', message: 'sign in first' });
    assert.equal(anonymous.headers['www-authenticate'], 'Cookie realm="app"');
    assert.deepEqual(hook.asked[1]?.channels, ['uid:alice']);

    const mallory = await request(`${s.url}/pub/news`, { method: 'POST', body: 'x', headers: { 'X-User': 'mallory' } });
    assert.equal(mallory.status, 403);
    assert.equal(errorOf(mallory).message, `${'mallory may not'.padEnd(200, '!')}...`);
    assert.equal(mallory.headers['www-authenticate'], undefined);
    assert.equal(hook.asked[2]?.op, 'publish');
    assert.equal(s.holdpush.stats().messages.published, 1);
  });

  test('is asked every time (it runs in process: nothing is cached), and counted in /stats', T, async (t) => {
    const hook = recorder(() => true);
    const s = await serve(t, { authorize: hook.authorize });
    await s.holdpush.publish('news', 'm');
    for (let i = 0; i < 3; i++) assert.equal((await request(`${s.url}/sub/news`, { headers: { Cookie: 'sid=1' } })).status, 200);
    assert.equal(hook.asked.length, 3);
    assert.deepEqual(s.holdpush.stats().auth, { allow: 3, deny: 0, error: 0, cacheHits: 0 });
  });

  test('a throw, a rejection, a result of another shape or no answer within authTimeout: 503 with Retry-After, logged, nothing held', T, async (t) => {
    let decide: (request: AuthorizeRequest) => unknown = () => true;
    const s = await serve(t, { authorize: (request) => decide(request) as AuthorizeResult, authTimeout: 0.3 });
    const cases: [string, (request: AuthorizeRequest) => unknown, RegExp | null][] = [
      ['a throw', () => {
        throw new Error('session store down');
      }, /authorize.*session store down/s],
      ['a rejection', () => Promise.reject(new Error('lookup failed')), /authorize.*lookup failed/s],
      ['false', () => false, /authorize returned false/],
      ['undefined', () => undefined, /authorize returned undefined/],
      ['a 500', () => ({ status: 500, message: 'x' }), /authorize returned \{"status":500/],
      ['a 401 without words', () => ({ status: 401 }), /authorize returned/],
      ['a challenge with a line break', () => ({ status: 401, message: 'x', wwwAuthenticate: 'a\r\nb' }), /authorize returned/],
      ['no answer', () => new Promise(() => undefined), null],
    ];
    for (const [what, broken, logged] of cases) {
      decide = broken;
      let reply: Awaited<ReturnType<typeof request>> | undefined;
      const started = Date.now();
      const log = await stderrOf(async () => {
        reply = await request(`${s.url}/sub/news`, { headers: { Accept: 'application/json' } });
      });
      assert.ok(reply !== undefined);
      assert.equal(reply.status, 503, what);
      assert.equal(reply.headers['retry-after'], '2', what);
      assert.equal(errorOf(reply).error, 'auth_unavailable', what);
      assert.ok(Date.now() - started < 1300, `${what}: ${Date.now() - started} ms`);
      if (logged === null) assert.equal(log, '', what);
      else assert.match(log, logged, what);
    }
    assert.equal(s.holdpush.stats().held.total, 0);
    assert.equal(s.holdpush.stats().auth.error, cases.length);
  });

  test('a valid publish token settles a publish without asking; publishAllow alone no longer does; the JWT and authorize must both allow', T, async (t) => {
    const hook = recorder(({ cookie }) => (cookie === 'ok' ? true : { status: 403, message: 'no' }));
    const secret = 'subscribe-secret';
    const s = await serve(t, { authorize: hook.authorize, publishToken: 'pub', subscribeSecret: secret });
    assert.equal((await request(`${s.url}/pub/c`, { method: 'POST', body: 'x', headers: { Authorization: 'Bearer pub' } })).status, 202);
    assert.equal(hook.asked.length, 0);
    assert.equal((await request(`${s.url}/pub/c`, { method: 'POST', body: 'x' })).status, 403);
    assert.equal((await request(`${s.url}/send`, { method: 'POST', body: 'x', headers: { Cookie: 'ok' } })).status, 200);
    assert.deepEqual(hook.asked.map((asked) => asked.channels), [['c'], ['uid:*']]);

    const jwt = signJwt({ holdpush: { subscribe: ['c'] } }, secret);
    assert.equal((await request(`${s.url}/sub/c`, { headers: { Cookie: 'ok' } })).status, 401, 'no JWT');
    assert.equal(hook.asked.length, 2, 'a refused JWT is not asked about');
    assert.equal((await request(`${s.url}/sub/c?token=${jwt}`)).status, 403, 'a JWT, and authorize refuses');
    assert.equal((await request(`${s.url}/sub/c?token=${jwt}`, { headers: { Cookie: 'ok' } })).status, 200);
  });

  test('a subscriber that leaves while authorize decides is never held', T, async (t) => {
    let allow = (): void => undefined;
    const decided = new Promise<AuthorizeResult>((resolve) => {
      allow = () => resolve(true);
    });
    const hook = recorder(() => decided);
    const s = await serve(t, { authorize: hook.authorize });
    // A long-poll: on the memory store it would be held in the same tick as the decision.
    const req = httpRequest(`${s.url}/sub/news`, { agent: false });
    req.on('error', () => undefined);
    req.end();
    await until(() => hook.asked.length === 1, 5000, 'authorize to be asked');
    const closed = new Promise((resolve) => (hook.asked[0] as AuthorizeRequest).req.socket.once('close', resolve));
    req.destroy();
    await closed;
    allow();
    await decided;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.holdpush.stats().held.total, 0);
    // The next one, still connected, is held.
    const stays = httpRequest(`${s.url}/sub/news`, { agent: false, headers: { Accept: 'text/event-stream' } });
    stays.on('error', () => undefined);
    stays.end();
    await held(s, 1);
    stays.destroy();
    await held(s, 0);
  });

  test('options are checked: a TypeError names the option', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ authorize: 'yes' }, /^authorize must be a function/],
      [{ authUrl: 'ftp://127.0.0.1/auth' }, /^authUrl must be an http:\/\/ or https:\/\/ URL/],
      [{ authUrl: 'not a url' }, /^authUrl must be an http:\/\/ or https:\/\/ URL/],
      [{ authUrl: 'http://user:pw@127.0.0.1/auth' }, /^authUrl must not carry a user name or password/],
      [{ authUrl: 42 }, /^authUrl must be a string/],
      [{ authUrl: 'http://127.0.0.1/auth', authorize: () => true }, /^authorize and authUrl: give one/],
      [{ authTimeout: 0 }, /^authTimeout must be a positive number/],
      [{ authCache: -1 }, /^authCache must be a number of seconds, 0 or more/],
      [{ authCache: Number.NaN }, /^authCache must be/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => createHoldpush({ log: 'off', ...options } as Parameters<typeof createHoldpush>[0]), (error: unknown) => error instanceof TypeError && message.test(error.message), JSON.stringify(options));
    }
    const fine = createHoldpush({ log: 'off', authUrl: 'https://127.0.0.1:8443/auth?x=1', authCache: 0 });
    assert.equal(fine.options.authCache, 0);
    assert.equal(fine.options.authTimeout, 5);
    void fine.close();
  });
});

interface RunningExample {
  readonly url: string;
  readonly push: Holdpush;
  close(): Promise<void>;
}

const EXAMPLE = join(ROOT, 'examples', 'express-session', 'server.js');

describe('examples/express-session: Express sessions decide', () => {
  let app: RunningExample;

  before(async () => {
    const { start } = require(EXAMPLE) as { start(port: number, options?: Record<string, unknown>): Promise<RunningExample> };
    app = await start(0, { secret: 'test secret' });
  });

  after(() => app.close());

  async function login(name: string): Promise<string> {
    const reply = await request(`${app.url}/login`, { method: 'POST', body: `name=${name}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(reply.status, 200);
    const cookie = String(reply.headers['set-cookie']?.[0] ?? '').split(';')[0] as string;
    assert.match(cookie, /^connect\.sid=/);
    return cookie;
  }

  test('signed out: 401; a reader reads news and its own uid; only the editor publishes; signed out again: 401', T, async () => {
    const { url } = app;
    const anonymous = await request(`${url}/push/sub/news`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(errorOf(anonymous), { error: 'unauthorized', message: 'sign in first (POST /login)' });

    const alice = await login('alice');
    const editor = await login('editor');
    const refused = await request(`${url}/push/pub/news`, { method: 'POST', body: 'from alice', headers: { Cookie: alice } });
    assert.equal(refused.status, 403);
    assert.equal(errorOf(refused).message, 'only editors publish');
    assert.equal((await request(`${url}/push/pub/news`, { method: 'POST', body: 'headline', headers: { Cookie: editor } })).status, 202);

    const news = await request(`${url}/push/sub/news`, { headers: { Cookie: alice, Accept: 'application/json' } });
    assert.equal(news.status, 200);
    assert.deepEqual((news.json() as { messages: { data: string }[] }).messages.map((m) => m.data), ['headline']);
    const other = await request(`${url}/push/?uid=bob`, { headers: { Cookie: alice } });
    assert.equal(other.status, 403);
    assert.equal(errorOf(other).message, 'alice may read news and uid:alice');

    const mine = request(`${url}/push/?uid=alice`, { headers: { Cookie: alice } });
    await until(() => app.push.stats().held.total === 1, 5000, 'alice held');
    const sent = await request(`${url}/push/send`, { method: 'POST', body: JSON.stringify({ message: 'for alice', uid: 'alice' }), headers: { Cookie: editor, 'Content-Type': 'application/json' } });
    assert.deepEqual(sent.json(), { id: (sent.json() as { id: string }).id, delivered: 1 });
    assert.equal((await mine).text, 'for alice');

    assert.equal((await request(`${url}/logout`, { method: 'POST', headers: { Cookie: alice } })).status, 204);
    assert.equal((await request(`${url}/push/sub/news`, { headers: { Cookie: alice } })).status, 401);
    assert.equal(app.push.stats().held.total, 0);
  });

  test('runs on its own: node examples/express-session/server.js', T, async () => {
    const child = spawn(process.execPath, [EXAMPLE], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await until(() => /listening on (http:\S+)/.test(out), 10_000, `the example to listen: ${out}`);
      const url = (/listening on (http:\S+)/.exec(out) as RegExpExecArray)[1] as string;
      assert.equal((await request(`${url}/push/sub/news`)).status, 401);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});

/**
 * `--auth-url` on the command line: its flags, a bad URL at start, and the same answers with
 * `--workers 2` and with `--redis` (each process keeps its own cache).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, helpText, parseCli } from '../lib/cli/flags';
import { type AuthApp, CHALLENGE, startAuthApp } from './support/auth-app';
import { type Child, runCli, startCli } from './support/f2-cli';
import { type Reply, request, until } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';

const ALICE = { Cookie: 'session=alice' };

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseCli(argv, env);
  assert.equal(parsed.print, undefined);
  return (parsed as Extract<typeof parsed, { print: undefined }>).config;
}

describe('the --auth-* flags', () => {
  test('defaults, flags and environment twins; --auth-cache may be 0', () => {
    const defaults = config([]);
    assert.deepEqual([defaults.authUrl, defaults.authTimeout, defaults.authCache], [undefined, 5, 10]);
    const given = config(['--auth-url', 'https://127.0.0.1:8443/auth?x=1', '--auth-timeout=0.3', '--auth-cache', '0']);
    assert.deepEqual([given.authUrl, given.authTimeout, given.authCache], ['https://127.0.0.1:8443/auth?x=1', 0.3, 0]);
    const env = config([], { HOLDPUSH_AUTH_URL: 'http://127.0.0.1/a', HOLDPUSH_AUTH_TIMEOUT: '2', HOLDPUSH_AUTH_CACHE: '0.5' });
    assert.deepEqual([env.authUrl, env.authTimeout, env.authCache], ['http://127.0.0.1/a', 2, 0.5]);
  });

  test('a URL that is not http(s), carries credentials or is no URL, and bad seconds, are a ConfigError of one line', () => {
    for (const argv of [
      ['--auth-url', 'ftp://127.0.0.1/auth'],
      ['--auth-url', '127.0.0.1:8080/auth'],
      ['--auth-url', 'http://user:pw@127.0.0.1/auth'],
      ['--auth-url', ''],
      ['--auth-timeout', '0'],
      ['--auth-timeout', 'soon'],
      ['--auth-cache', '-1'],
    ]) {
      assert.throws(() => parseCli(argv, {}), (error: unknown) => error instanceof ConfigError && !error.message.includes('\n') && error.message.startsWith(argv[0] as string), argv.join(' '));
    }
  });

  test('--help lists them with their defaults', () => {
    const help = helpText();
    assert.match(help, /^ {2}--auth-url .*\(default: none\)$/m);
    assert.match(help, /^ {2}--auth-timeout .*\(default: 5\)$/m);
    assert.match(help, /^ {2}--auth-cache .*\(default: 10\)$/m);
  });

  test('holdpush with a --auth-url (or HOLDPUSH_AUTH_URL) that is not http(s) exits 2 with one line', { timeout: 20_000 }, async () => {
    for (const [args, env] of [
      [['--auth-url', 'ftp://127.0.0.1/auth'], {}],
      [[], { HOLDPUSH_AUTH_URL: 'file:///etc/passwd' }],
    ] as const) {
      const exit = await runCli(['--port', '0', '--host', '127.0.0.1', ...args], env);
      assert.equal(exit.code, 2, exit.stderr);
      assert.equal(exit.stdout, '');
      assert.match(exit.stderr, /^holdpush: --auth-url must be an http:\/\/ or https:\/\/ URL, got "(ftp|file):"\n$/);
    }
  });
});

/** The same answers from any deployment: allowed, refused by the app, and the app's words. */
async function sameAnswers(url: string, app: AuthApp): Promise<void> {
  const published = await request(`${url}/pub/news`, { method: 'POST', body: 'allowed', headers: ALICE });
  assert.ok(published.status === 201 || published.status === 202, published.text);
  const refused = await request(`${url}/pub/news`, { method: 'POST', body: 'refused', headers: { Cookie: 'session=mallory' } });
  assert.equal(refused.status, 403);
  const anonymous = await request(`${url}/sub/news`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers['www-authenticate'], CHALLENGE);
  // Fresh connections, so that --workers spreads them: each process asks at most once.
  const before = app.questions.length;
  const replies: Reply[] = [];
  for (let i = 0; i < 20; i++) replies.push(await request(`${url}/sub/news`, { headers: { ...ALICE, Accept: 'application/json' } }));
  for (const reply of replies) {
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual((reply.json() as { messages: { data: string }[] }).messages.map((m) => m.data), ['allowed'], 'the refused publish published nothing');
  }
  const asked = app.questions.length - before;
  assert.ok(asked >= 1 && asked <= 2, `asked ${asked} times for 20 re-polls`);
}

async function listening(child: Child, workers: number): Promise<string> {
  const port = await child.listening;
  await until(() => (child.stdout().match(/holdpush listening on/g) ?? []).length === workers, 15_000, `${workers} workers listening`);
  return `http://127.0.0.1:${port}`;
}

describe('--auth-url with --workers 2 and with --redis', { timeout: 40_000 }, () => {
  let app: AuthApp;
  let redis: RedisServer;
  const children: Child[] = [];

  before(async () => {
    app = await startAuthApp();
    redis = await startRedis();
  });

  after(async () => {
    for (const child of children) await child.stop();
    await app.close();
    await redis.stop();
  });

  test('--workers 2: the same answers; each worker keeps its own cache', { timeout: 30_000 }, async () => {
    const child = startCli(['--port', '0', '--host', '127.0.0.1', '--workers', '2', '--log', 'off', '--auth-url', app.url], {}, 15_000);
    children.push(child);
    await sameAnswers(await listening(child, 2), app);
  });

  test('--redis: the same answers', { timeout: 30_000 }, async () => {
    const child = startCli(['--port', '0', '--host', '127.0.0.1', '--log', 'off', '--redis', redis.url, '--auth-url', app.url], {}, 15_000);
    children.push(child);
    await sameAnswers(await listening(child, 1), app);
  });
});

/**
 * The holdpush command as installed (the package's bin, from dist/): its exit codes and one-line
 * messages, --help, --version, the listening line, serving, and SIGTERM / SIGINT. How flags and
 * their environment twins are read is checked without a process in config.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { helpText } from '../lib/cli/flags';
import { freePort, heldAt, request } from './support/http';
import { type Child, builtPath, cleanEnv, runCli, startCli } from './support/servers';
import { openEventStream } from './support/sse';

const T = { timeout: 10_000 };
const LOCAL = ['--host', '127.0.0.1'];

function started(t: import('node:test').TestContext, args: readonly string[], env: Record<string, string> = {}): Child {
  const child = startCli(args, env);
  t.after(() => child.stop(2000));
  return child;
}

test('PORT and HOLDPUSH_* set it up (HOLDPUSH_TRUST_PROXY too); it prints where it listens; SIGINT ends an open stream and exits 0', T, async (t) => {
  const port = await freePort();
  const env = {
    PORT: String(port),
    HOLDPUSH_HOST: '127.0.0.1',
    HOLDPUSH_CORS_ORIGIN: 'https://app.example',
    HOLDPUSH_HOLD_TIMEOUT: '0.2',
    HOLDPUSH_SHUTDOWN_TIMEOUT: '60',
    // Outside loopback, so that an allowed publish can only be the forwarded address's doing.
    HOLDPUSH_PUBLISH_ALLOW: '198.51.100.0/24',
    HOLDPUSH_TRUST_PROXY: 'loopback',
    HOLDPUSH_LOG: 'json',
  };
  const child = started(t, [], env);
  assert.equal(await child.listening, port);
  assert.equal(child.stdout(), `holdpush listening on http://127.0.0.1:${port}\n`);
  const base = `http://127.0.0.1:${port}`;
  const health = await request(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.text, 'ok');
  assert.equal(health.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(health.headers['access-control-allow-origin'], 'https://app.example');
  // The default hold (30 s) would outlast this test: the 408 is the environment's 0.2 s.
  const quiet = await request(`${base}/sub/quiet`);
  assert.equal(quiet.status, 408);
  assert.match(quiet.headers.etag as string, /^[0-9A-Za-z._~-]+$/);
  // The test is the trusted proxy: --publish-allow judges the client it forwards.
  assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '198.51.100.7' } })).status, 202);
  assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 403);

  const stream = await openEventStream(`${base}/sub/live`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.length > 0);
  // A shutdown that waited for its 60 s timeout would outlast this test too.
  child.process.kill('SIGINT');
  await stream.ended;
  const exit = await child.exited;
  assert.equal(exit.code, 0);
  assert.equal(exit.stderr, '');
  const entries = exit.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { path: string; address: string });
  assert.deepEqual(entries.filter((entry) => entry.path === '/pub/c').map((entry) => entry.address), ['198.51.100.7', '203.0.113.9'], 'the log shows the forwarded client');
});

test('it serves a publish to a held subscriber; SIGTERM answers held polls 503 with Retry-After: 1 and exits 0', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--shutdown-timeout', '60']);
  const base = `http://127.0.0.1:${await child.listening}`;
  const waiting = request(`${base}/sub/cli`);
  await heldAt(base, 1);
  const published = await request(`${base}/pub/cli`, { method: 'POST', body: 'over the wire' });
  assert.equal(published.status, 201);
  const reply = await waiting;
  assert.equal(reply.status, 200);
  assert.equal(reply.text, 'over the wire');

  const polls = [request(`${base}/sub/held`), request(`${base}/sub/held`, { headers: { Accept: 'application/json' } })];
  await heldAt(base, 2);
  child.process.kill('SIGTERM');
  for (const answer of await Promise.all(polls)) {
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '1');
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal((answer.json() as { error: string }).error, 'shutting_down');
  }
  const exit = await child.exited;
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stdout, /SIGTERM, shutting down/);
});

test('--help prints the help text, exit 0', T, async () => {
  const exit = await runCli(['--help']);
  assert.equal(exit.code, 0);
  assert.equal(exit.stderr, '');
  assert.equal(exit.stdout, helpText());
});

// From dist/, through the old path dist/server.js that stays as a shim: the built file finds
// package.json from dist/cli/, which the parser's tests (run from lib/) cannot show.
test('the built command, node dist/server.js --version: the version of package.json, exit 0', T, async () => {
  const root = join(__dirname, '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  // execFile rejects on a non-zero exit, so getting here means exit 0.
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [builtPath(join('dist', 'server.js')), '--version'], { cwd: root, env: cleanEnv(), timeout: 8000 });
  assert.equal(stdout, `${version}\n`);
  assert.equal(stderr, '');
});

// One of each way a start is refused: a flag the parser refuses, an option createHoldpush
// refuses (a TypeError: a header value with a line break), and what only the command checks (--redis).
for (const [what, args, env] of [
  ['an unknown flag', ['--no-such-flag', '1'], {}],
  ['--cors-origin with a line break', ['--cors-origin', 'https://app.example\r\nX-Injected: 1'], {}],
  ['--redis that is not a redis:// URL', ['--redis', 'http://127.0.0.1:6379'], {}],
] as const) {
  test(`${what}: exit status 2 with one line on stderr`, T, async () => {
    // Safe flags first, so a bad value that slipped through would still listen on loopback only.
    const exit = await runCli([...LOCAL, '--port', '0', ...args], env);
    assert.equal(exit.code, 2, `stdout ${exit.stdout} stderr ${exit.stderr}`);
    assert.equal(exit.stdout, '');
    assert.match(exit.stderr, /^holdpush: [^\n]+\n$/, JSON.stringify(exit.stderr));
  });
}

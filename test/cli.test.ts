import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { type Child, runCli, startCli } from './support/f2-cli';
import { freePort, request } from './support/http';

const T = { timeout: 10_000 };
const LOCAL = ['--host', '127.0.0.1'];

function started(t: import('node:test').TestContext, args: readonly string[], env: Record<string, string> = {}): Child {
  const child = startCli(args, env);
  t.after(() => child.stop(2000));
  return child;
}

test('--port 0 --host 127.0.0.1 prints the address it listens on; /healthz is 200 ok', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off']);
  const port = await child.listening;
  assert.ok(port > 0 && port < 65536);
  assert.equal(child.stdout(), `holdpush listening on http://127.0.0.1:${port}\n`);
  const health = await request(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.text, 'ok');
  assert.equal(health.headers['content-type'], 'text/plain; charset=utf-8');
  const exit = await child.stop();
  assert.equal(exit.code, 0);
  assert.equal(exit.stderr, '');
});

test('--help lists every flag of docs/protocol.md with its default, exit 0', T, async () => {
  const exit = await runCli(['--help']);
  assert.equal(exit.code, 0);
  assert.equal(exit.stderr, '');
  const defaults: Record<string, string> = {
    port: '8888',
    host: '0.0.0.0',
    'hold-timeout': '30',
    keepalive: '15',
    buffer: '1000',
    'message-ttl': '3600',
    'max-message': '65536',
    'max-subscribers': '100000',
    'max-channels': '100000',
    'first-message': 'oldest',
    'publish-token': 'none',
    'subscribe-secret': 'none',
    'cors-origin': '*',
    'publish-allow': '127.0.0.0/8,::1',
    'trust-proxy': 'none',
    'shutdown-timeout': '5',
    workers: '1',
    redis: 'none',
    log: 'text',
    'fast-wire': 'true',
  };
  const lines = exit.stdout.split('\n');
  for (const [flag, value] of Object.entries(defaults)) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${flag} `));
    assert.ok(line !== undefined, `--${flag} is listed`);
    assert.ok(line.includes(`(default: ${value})`), `--${flag} shows its default ${value}: ${line}`);
  }
  assert.match(exit.stdout, /HOLDPUSH_HOLD_TIMEOUT/);
  assert.match(exit.stdout, /\bPORT\b/);
  assert.equal((await runCli(['-h'])).code, 0);
});

test('the built command, node dist/server.js --version: the version of package.json, exit 0', T, async () => {
  const root = join(__dirname, '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  // execFile rejects on a non-zero exit, so getting here means exit 0.
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'dist', 'server.js'), '--version'], { cwd: root, timeout: 8000 });
  assert.equal(stdout, `${version}\n`);
  assert.equal(stderr, '');
});

for (const [what, args, env] of [
  ['an unknown flag', ['--no-such-flag', '1'], {}],
  ['a stray argument', ['8080'], {}],
  ['--hold-timeout abc', ['--hold-timeout', 'abc'], {}],
  ['--hold-timeout 0', ['--hold-timeout', '0'], {}],
  ['--hold-timeout=-1', ['--hold-timeout=-1'], {}],
  ['--buffer 1.5', ['--buffer', '1.5'], {}],
  ['--port 70000', ['--port', '70000'], {}],
  ['--first-message x', ['--first-message', 'x'], {}],
  ['--log loud', ['--log', 'loud'], {}],
  ['--fast-wire yes', ['--fast-wire', 'yes'], {}],
  ['--publish-allow not-an-ip', ['--publish-allow', 'not-an-ip'], {}],
  ['--publish-allow with one bad entry', ['--publish-allow', '127.0.0.1,10.0.0.0/99'], {}],
  ['--trust-proxy with a host name', ['--trust-proxy', 'loopback,proxy.example'], {}],
  ['a bad HOLDPUSH_TRUST_PROXY', [], { HOLDPUSH_TRUST_PROXY: '10.0.0.0/99' }],
  ['a flag with no value', ['--port'], {}],
  ['a bad environment twin', [], { HOLDPUSH_HOLD_TIMEOUT: 'soon' }],
  ['a bad PORT', [], { PORT: 'eighty' }],
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

test('HOLDPUSH_HOLD_TIMEOUT=0.2: a long-poll gets its 408 quickly', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off'], { HOLDPUSH_HOLD_TIMEOUT: '0.2' });
  const port = await child.listening;
  const startedAt = Date.now();
  const reply = await request(`http://127.0.0.1:${port}/sub/quiet`);
  const elapsed = Date.now() - startedAt;
  assert.equal(reply.status, 408);
  assert.ok(elapsed >= 150 && elapsed < 2000, `after ${elapsed} ms`);
  assert.match(reply.headers.etag as string, /^[0-9A-Za-z._~-]+$/);
});

test('a flag wins over its environment twin', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off', '--hold-timeout', '0.2'], { HOLDPUSH_HOLD_TIMEOUT: '60' });
  const port = await child.listening;
  assert.equal((await request(`http://127.0.0.1:${port}/sub/quiet`)).status, 408);
});

test('PORT sets the port; HOLDPUSH_HOST and other twins are read', T, async (t) => {
  const port = await freePort();
  const child = started(t, ['--log', 'off'], { PORT: String(port), HOLDPUSH_HOST: '127.0.0.1', HOLDPUSH_CORS_ORIGIN: 'https://app.example' });
  assert.equal(await child.listening, port);
  const reply = await request(`http://127.0.0.1:${port}/healthz`);
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['access-control-allow-origin'], 'https://app.example');
});

test('publishing and subscribing through the CLI server', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off', '--first-message', 'newest']);
  const port = await child.listening;
  const base = `http://127.0.0.1:${port}`;
  const waiting = request(`${base}/sub/cli`);
  // Wait until the long-poll is held (the server's own figures say so).
  for (let i = 0; i < 200; i++) {
    const stats = (await request(`${base}/stats`)).json() as { held: { total: number } };
    if (stats.held.total === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const published = await request(`${base}/pub/cli`, { method: 'POST', body: 'over the wire' });
  assert.equal(published.status, 201);
  const reply = await waiting;
  assert.equal(reply.status, 200);
  assert.equal(reply.text, 'over the wire');
});

test('--trust-proxy (and its twin) lets --publish-allow judge the forwarded client; the log shows it', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'json', '--publish-allow', '198.51.100.0/24'], { HOLDPUSH_TRUST_PROXY: 'loopback' });
  const base = `http://127.0.0.1:${await child.listening}`;
  assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '198.51.100.7' } })).status, 202);
  assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 403);
  const exit = await child.stop();
  const addresses = exit.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => (JSON.parse(line) as { address: string }).address);
  assert.deepEqual(addresses, ['198.51.100.7', '203.0.113.9']);
});

test('without --trust-proxy a forwarded publish from loopback is refused, naming both fixes', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off']);
  const base = `http://127.0.0.1:${await child.listening}`;
  const reply = await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Real-IP': '127.0.0.1' } });
  assert.equal(reply.status, 403);
  assert.match(reply.text, /--publish-token.*--trust-proxy/);
});

test('SIGTERM with a held long-poll: 503 with Retry-After: 1, exit 0 within the shutdown timeout', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--shutdown-timeout', '3']);
  const port = await child.listening;
  const base = `http://127.0.0.1:${port}`;
  const polls = [request(`${base}/sub/held`), request(`${base}/sub/held`, { headers: { Accept: 'application/json' } })];
  for (let i = 0; i < 200; i++) {
    const stats = (await request(`${base}/stats`)).json() as { held: { total: number } };
    if (stats.held.total === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const signalled = Date.now();
  child.process.kill('SIGTERM');
  for (const reply of await Promise.all(polls)) {
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['retry-after'], '1');
    assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal((reply.json() as { error: string }).error, 'shutting_down');
  }
  const exit = await child.exited;
  const took = Date.now() - signalled;
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok(took < 3000, `exited after ${took} ms`);
  assert.match(exit.stdout, /SIGTERM, shutting down/);
});

test('SIGTERM with an open EventSource stream ends it and exits 0', T, async (t) => {
  const child = started(t, ['--port', '0', ...LOCAL, '--log', 'off', '--shutdown-timeout', '3']);
  const port = await child.listening;
  const { openStream } = await import('./support/f2-sse');
  const stream = await openStream(`http://127.0.0.1:${port}/sub/live`);
  t.after(() => stream.close());
  await stream.waitFor((text) => text.length > 0);
  const signalled = Date.now();
  child.process.kill('SIGINT');
  await stream.ended;
  const exit = await child.exited;
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - signalled < 3000);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, cliDefaults, helpText, parseCli, versionText } from '../lib/cli/flags';

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const request = parseCli(argv, env);
  assert.equal(request.print, undefined);
  return (request as Extract<typeof request, { print: undefined }>).config;
}

test('defaults are those of docs/protocol.md', () => {
  const c = config([]);
  assert.deepEqual(
    { port: c.port, host: c.host, holdTimeout: c.holdTimeout, keepalive: c.keepalive, buffer: c.buffer, messageTtl: c.messageTtl, maxMessage: c.maxMessage, maxSubscribers: c.maxSubscribers, maxChannels: c.maxChannels, firstMessage: c.firstMessage, corsOrigin: c.corsOrigin, publishAllow: c.publishAllow, shutdownTimeout: c.shutdownTimeout, workers: c.workers, log: c.log, fastWire: c.fastWire },
    { port: 8888, host: '0.0.0.0', holdTimeout: 30, keepalive: 15, buffer: 1000, messageTtl: 3600, maxMessage: 65536, maxSubscribers: 100000, maxChannels: 100000, firstMessage: 'oldest', corsOrigin: '*', publishAllow: ['127.0.0.0/8', '::1'], shutdownTimeout: 5, workers: 1, log: 'text', fastWire: true },
  );
  assert.equal(c.publishToken, undefined);
  assert.equal(c.redis, undefined);
  assert.deepEqual(c.trustProxy, [], 'no proxy is trusted unless named');
});

test('flags, --flag=value, environment twins and PORT', () => {
  const c = config(['--hold-timeout', '0.5', '--buffer=7', '--publish-allow', '10.0.0.0/8, ::1', '--log', 'json'], { HOLDPUSH_MESSAGE_TTL: '12.5', PORT: '9000', HOLDPUSH_HOLD_TIMEOUT: '99' });
  assert.equal(c.holdTimeout, 0.5, 'a flag wins over its environment twin');
  assert.equal(c.buffer, 7);
  assert.deepEqual(c.publishAllow, ['10.0.0.0/8', '::1']);
  assert.equal(c.log, 'json');
  assert.equal(c.messageTtl, 12.5);
  assert.equal(c.port, 9000);
  assert.equal(config([], { HOLDPUSH_PORT: '1234', PORT: '9000' }).port, 1234);
  assert.equal(config(['--workers', '0']).workers, 0);
  const twins = config([], { HOLDPUSH_HOST: '127.0.0.1', HOLDPUSH_CORS_ORIGIN: 'https://app.example', HOLDPUSH_FIRST_MESSAGE: 'newest' });
  assert.deepEqual([twins.host, twins.corsOrigin, twins.firstMessage], ['127.0.0.1', 'https://app.example', 'newest']);
  assert.deepEqual(config(['--trust-proxy', 'loopback, 10.0.0.0/8']).trustProxy, ['loopback', '10.0.0.0/8']);
  assert.deepEqual(config([], { HOLDPUSH_TRUST_PROXY: '::1,192.0.2.1' }).trustProxy, ['::1', '192.0.2.1']);
});

test('--fast-wire true|false and HOLDPUSH_FAST_WIRE', () => {
  assert.equal(config(['--fast-wire', 'false']).fastWire, false);
  assert.equal(config(['--fast-wire=true'], { HOLDPUSH_FAST_WIRE: 'false' }).fastWire, true);
  assert.equal(config([], { HOLDPUSH_FAST_WIRE: 'false' }).fastWire, false);
  assert.equal(config([], { HOLDPUSH_FAST_WIRE: 'true' }).fastWire, true);
});

test('anything unknown or bad is a ConfigError with one line', () => {
  const oneLine = (error: unknown) => error instanceof ConfigError && error.message !== '' && !error.message.includes('\n');
  for (const argv of [
    ['--nope', '1'],
    ['stray'],
    ['8080'],
    ['--hold-timeout', 'abc'],
    ['--hold-timeout', '-1'],
    ['--hold-timeout=-1'],
    ['--hold-timeout', '0'],
    ['--buffer', '1.5'],
    ['--buffer', '0'],
    ['--port', '70000'],
    ['--first-message', 'middle'],
    ['--log', 'loud'],
    ['--hold-timeout'],
    ['--port'],
    ['--publish-allow', ','],
    ['--publish-allow', 'loopback'],
    ['--publish-allow', 'not-an-ip'],
    ['--publish-allow', '10.0.0.1,nope'],
    ['--publish-allow', '127.0.0.1,10.0.0.0/99'],
    ['--publish-token', ''],
    ['--trust-proxy', ','],
    ['--trust-proxy', 'proxy.example'],
    ['--trust-proxy', 'loopback,proxy.example'],
    ['--trust-proxy', 'loopback,10.0.0.0/33'],
    ['--trust-proxy', 'a\nb'],
    ['--fast-wire', 'no'],
    ['--fast-wire', 'yes'],
    ['--fast-wire', '1'],
    ['--fast-wire'],
  ]) {
    assert.throws(() => parseCli(argv, {}), oneLine, argv.join(' '));
  }
  for (const env of [{ HOLDPUSH_KEEPALIVE: 'soon' }, { HOLDPUSH_HOLD_TIMEOUT: 'soon' }, { PORT: 'eighty' }, { HOLDPUSH_TRUST_PROXY: '10.0.0.0/99' }]) {
    assert.throws(() => parseCli([], env), oneLine, JSON.stringify(env));
  }
});

test('--help and -h; the help lists every flag of docs/protocol.md with its default, and the environment', () => {
  assert.deepEqual(parseCli(['--help'], {}), { print: 'help' });
  assert.deepEqual(parseCli(['-h'], {}), { print: 'help' });
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
  const help = helpText();
  const lines = help.split('\n');
  for (const [flag, value] of Object.entries(defaults)) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${flag} `));
    assert.ok(line !== undefined, `--${flag} is listed`);
    assert.ok(line.includes(`(default: ${value})`), `--${flag} shows its default ${value}: ${line}`);
  }
  assert.match(help, /--trust-proxy .*loopback.*\(default: none\)/);
  assert.match(help, /--help, -h .*print this and exit/);
  assert.match(help, /--version, -v .*print the version and exit/);
  assert.match(help, /HOLDPUSH_HOLD_TIMEOUT/);
  assert.match(help, /\bPORT\b/);
  assert.equal(cliDefaults.port, 8888);
});

test('--version and -v print the version of package.json, whatever else is on the line', () => {
  for (const argv of [['--version'], ['-v'], ['--port', '1', '--version']]) assert.deepEqual(parseCli(argv, {}), { print: 'version' }, argv.join(' '));
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+/);
  assert.equal(versionText(), `${version}\n`);
});

test('--idempotency-ttl and HOLDPUSH_IDEMPOTENCY_TTL: seconds, 300 by default', () => {
  assert.equal(config([]).idempotencyTtl, 300);
  assert.equal(config(['--idempotency-ttl', '0.5']).idempotencyTtl, 0.5);
  assert.equal(config([], { HOLDPUSH_IDEMPOTENCY_TTL: '60' }).idempotencyTtl, 60);
  for (const argv of [['--idempotency-ttl', '0'], ['--idempotency-ttl', 'soon'], ['--idempotency-ttl']]) assert.throws(() => parseCli(argv, {}), ConfigError, argv.join(' '));
  assert.match(helpText(), /--idempotency-ttl .*\(default: 300\)/);
});

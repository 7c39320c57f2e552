import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, cliDefaults, helpText, parseCli } from '../lib/config';

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const request = parseCli(argv, env);
  assert.equal(request.help, false);
  return (request as Extract<typeof request, { help: false }>).config;
}

test('defaults are PROTOCOL.md\'s', () => {
  const c = config([]);
  assert.deepEqual(
    { port: c.port, host: c.host, holdTimeout: c.holdTimeout, keepalive: c.keepalive, buffer: c.buffer, messageTtl: c.messageTtl, maxMessage: c.maxMessage, maxSubscribers: c.maxSubscribers, maxChannels: c.maxChannels, firstMessage: c.firstMessage, corsOrigin: c.corsOrigin, publishAllow: c.publishAllow, shutdownTimeout: c.shutdownTimeout, workers: c.workers, log: c.log },
    { port: 8888, host: '0.0.0.0', holdTimeout: 30, keepalive: 15, buffer: 1000, messageTtl: 3600, maxMessage: 65536, maxSubscribers: 100000, maxChannels: 100000, firstMessage: 'oldest', corsOrigin: '*', publishAllow: ['127.0.0.0/8', '::1'], shutdownTimeout: 5, workers: 1, log: 'text' },
  );
  assert.equal(c.publishToken, undefined);
  assert.equal(c.redis, undefined);
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
    ['--publish-token', ''],
  ]) {
    assert.throws(() => parseCli(argv, {}), oneLine, argv.join(' '));
  }
  for (const env of [{ HOLDPUSH_KEEPALIVE: 'soon' }, { HOLDPUSH_HOLD_TIMEOUT: 'soon' }, { PORT: 'eighty' }]) {
    assert.throws(() => parseCli([], env), oneLine, JSON.stringify(env));
  }
});

test('--help and -h; the help lists every flag of PROTOCOL.md with its default, and the environment', () => {
  assert.deepEqual(parseCli(['--help'], {}), { help: true });
  assert.deepEqual(parseCli(['-h'], {}), { help: true });
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
    'shutdown-timeout': '5',
    workers: '1',
    redis: 'none',
    log: 'text',
  };
  const lines = helpText().split('\n');
  for (const [flag, value] of Object.entries(defaults)) {
    const line = lines.find((l) => l.trimStart().startsWith(`--${flag} `));
    assert.ok(line !== undefined, `--${flag} is listed`);
    assert.ok(line.includes(`(default: ${value})`), `--${flag} shows its default ${value}: ${line}`);
  }
  assert.match(helpText(), /HOLDPUSH_HOLD_TIMEOUT/);
  assert.match(helpText(), /\bPORT\b/);
  assert.equal(cliDefaults.port, 8888);
});

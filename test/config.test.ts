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
  for (const argv of [['--nope', '1'], ['--hold-timeout', 'abc'], ['--hold-timeout', '-1'], ['--buffer', '1.5'], ['--buffer', '0'], ['--port', '70000'], ['--first-message', 'middle'], ['--log', 'loud'], ['--hold-timeout'], ['stray'], ['--publish-allow', ','], ['--publish-token', ''], ['--publish-allow', 'loopback'], ['--publish-allow', '10.0.0.1,nope'], ['--trust-proxy', ','], ['--trust-proxy', 'proxy.example'], ['--trust-proxy', 'loopback,10.0.0.0/33'], ['--trust-proxy', 'a\nb'], ['--fast-wire', 'no'], ['--fast-wire', '1'], ['--fast-wire']]) {
    assert.throws(() => parseCli(argv, {}), (error: unknown) => error instanceof ConfigError && !error.message.includes('\n'), argv.join(' '));
  }
  assert.throws(() => parseCli([], { HOLDPUSH_KEEPALIVE: 'soon' }), ConfigError);
});

test('--help lists every flag with its default', () => {
  assert.deepEqual(parseCli(['--help'], {}), { print: 'help' });
  assert.deepEqual(parseCli(['-h'], {}), { print: 'help' });
  const help = helpText();
  for (const flag of ['port', 'host', 'hold-timeout', 'keepalive', 'buffer', 'message-ttl', 'max-message', 'max-subscribers', 'max-channels', 'first-message', 'publish-token', 'subscribe-secret', 'cors-origin', 'publish-allow', 'trust-proxy', 'shutdown-timeout', 'workers', 'redis', 'log', 'fast-wire']) {
    assert.match(help, new RegExp(`--${flag} `));
  }
  assert.match(help, /default: 127\.0\.0\.0\/8,::1/);
  assert.match(help, /--trust-proxy .*loopback.*\(default: none\)/);
  assert.match(help, /--fast-wire .*\(default: true\)/);
  assert.match(help, /--help, -h .*print this and exit/);
  assert.match(help, /--version, -v .*print the version and exit/);
  assert.equal(cliDefaults.port, 8888);
});

test('--version and -v print the version of package.json, whatever else is on the line', () => {
  for (const argv of [['--version'], ['-v'], ['--port', '1', '--version']]) assert.deepEqual(parseCli(argv, {}), { print: 'version' }, argv.join(' '));
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+/);
  assert.equal(versionText(), `${version}\n`);
});

// The command's flags and their environment twins (docs/protocol.md, "Configuration").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddressRule } from '../http/address';
import { httpUrlProblem } from '../http/http-url';
import { type HoldpushOptions, defaultOptions } from '../options';

/** What the command line may set: the embedding options plus where to listen and how many processes. */
export interface CliConfig extends Omit<HoldpushOptions, 'prefix' | 'authorize'> {
  port: number;
  host: string;
  workers: number;
  redis: string | undefined;
}

/** A bad flag or value: the CLI prints the message and exits with status 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Kind = 'duration' | 'count' | 'port' | 'text' | 'addresses' | 'choice' | 'boolean' | 'url';

interface Flag {
  readonly key: keyof CliConfig;
  readonly kind: Kind;
  readonly help: string;
  readonly choices?: readonly string[];
  /** For `addresses`: words allowed besides addresses and CIDRs. */
  readonly words?: readonly string[];
}

const FLAGS: Record<string, Flag> = {
  port: { key: 'port', kind: 'port', help: 'port to listen on (PORT also sets it)' },
  host: { key: 'host', kind: 'text', help: 'address to listen on' },
  'hold-timeout': { key: 'holdTimeout', kind: 'duration', help: 'seconds a long-poll is held (minus up to 10% jitter)' },
  keepalive: { key: 'keepalive', kind: 'duration', help: 'seconds between EventSource keepalive comments' },
  buffer: { key: 'buffer', kind: 'count', help: 'messages kept per channel' },
  'message-ttl': { key: 'messageTtl', kind: 'duration', help: 'seconds a message is kept' },
  'max-message': { key: 'maxMessage', kind: 'count', help: 'largest message in bytes' },
  // Memory budgets (docs/protocol.md, "Memory").
  'max-buffer-bytes': { key: 'maxBufferBytes', kind: 'count', help: 'bytes all buffered messages may take together; the oldest go first (memory store)' },
  'max-pending-bytes': { key: 'maxPendingBytes', kind: 'count', help: "bytes written but not yet taken by subscribers, all together; past it the fattest are cut" },
  'max-subscribers': { key: 'maxSubscribers', kind: 'count', help: 'held connections and streams in one process' },
  'max-channels': { key: 'maxChannels', kind: 'count', help: 'channels alive in one process' },
  'first-message': { key: 'firstMessage', kind: 'choice', choices: ['oldest', 'newest'], help: 'where /sub starts without a position' },
  'publish-token': { key: 'publishToken', kind: 'text', help: 'publishers need Authorization: Bearer <token>' },
  'subscribe-secret': { key: 'subscribeSecret', kind: 'text', help: 'subscribers need an HS256 JWT signed with it' },
  'cors-origin': { key: 'corsOrigin', kind: 'text', help: 'Access-Control-Allow-Origin of every answer' },
  'publish-allow': { key: 'publishAllow', kind: 'addresses', help: 'addresses or CIDRs that may publish without a token' },
  'trust-proxy': { key: 'trustProxy', kind: 'addresses', words: ['loopback'], help: "proxies whose X-Forwarded-For/Forwarded are believed ('loopback' = 127.0.0.0/8,::1)" },
  'shutdown-timeout': { key: 'shutdownTimeout', kind: 'duration', help: 'seconds a shutdown may take' },
  workers: { key: 'workers', kind: 'count', help: 'processes sharing the port (0 = one per core)' },
  redis: { key: 'redis', kind: 'text', help: 'a redis:// URL: share channels with every server on it' },
  'auth-url': { key: 'authUrl', kind: 'url', help: 'an http(s) URL of your app, asked before every subscription and publish' },
  'auth-timeout': { key: 'authTimeout', kind: 'duration', help: 'seconds the app has to answer (then 503)' },
  'auth-cache': { key: 'authCache', kind: 'duration', help: "seconds the app's answer is kept (0: ask every time)" },
  log: { key: 'log', kind: 'choice', choices: ['text', 'json', 'off'], help: 'request log format' },
  'fast-wire': { key: 'fastWire', kind: 'boolean', help: "true: answers leave as one prebuilt head; false: node:http's writeHead" },
  'idempotency-ttl': { key: 'idempotencyTtl', kind: 'duration', help: 'seconds the answer to a publish with an Idempotency-Key is replayed' },
  // Occupancy (docs/presence.md): checked with the other options (lib/options.ts).
  'webhook-url': { key: 'webhookUrl', kind: 'text', help: 'POST channel.occupied/channel.vacated events here (http or https)' },
  'webhook-secret': { key: 'webhookSecret', kind: 'text', help: 'sign deliveries: X-Holdpush-Signature: sha256=<HMAC> (16+ characters)' },
  'vacate-delay': { key: 'vacateDelay', kind: 'duration', help: 'seconds a channel has no subscriber anywhere before it is vacated' },
  'webhook-queue': { key: 'webhookQueue', kind: 'count', help: 'deliveries waiting at most (more are dropped and counted)' },
};

export const cliDefaults: Readonly<CliConfig> = (() => {
  const { prefix: _prefix, authorize: _authorize, ...rest } = defaultOptions;
  // The command logs requests unless told not to; an embedded instance does not (see `log`).
  return { ...rest, log: 'text', port: 8888, host: '0.0.0.0', workers: 1, redis: undefined };
})();

function envName(flag: string): string {
  return `HOLDPUSH_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function parseValue(flag: string, spec: Flag, raw: string): unknown {
  switch (spec.kind) {
    case 'duration': {
      const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
      if (value === 0 && flag === 'auth-cache') return value;
      if (!(value > 0)) throw new ConfigError(`--${flag} must be a positive number of seconds, got "${raw}"`);
      return value;
    }
    case 'count': {
      const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
      const min = flag === 'workers' ? 0 : 1;
      if (!Number.isSafeInteger(value) || value < min) throw new ConfigError(`--${flag} must be a whole number of at least ${min}, got "${raw}"`);
      return value;
    }
    case 'port': {
      const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(value >= 0 && value <= 65535)) throw new ConfigError(`--${flag} must be a port number from 0 to 65535, got "${raw}"`);
      return value;
    }
    case 'choice':
      if (!spec.choices?.includes(raw)) throw new ConfigError(`--${flag} must be one of ${spec.choices?.join(', ')}, got "${raw}"`);
      return raw;
    case 'addresses': {
      const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
      if (entries.length === 0) throw new ConfigError(`--${flag} needs at least one entry`);
      const bad = entries.find((entry) => !spec.words?.includes(entry) && parseAddressRule(entry) === null);
      if (bad !== undefined) throw new ConfigError(`--${flag}: not an address or CIDR${spec.words ? ` or ${spec.words.join(', ')}` : ''}: ${JSON.stringify(bad)}`);
      return entries;
    }
    case 'text':
      if (raw === '') throw new ConfigError(`--${flag} needs a value`);
      return raw;
    case 'url': {
      const problem = httpUrlProblem(raw);
      if (problem !== undefined) throw new ConfigError(`--${flag} ${problem}`);
      return raw;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw new ConfigError(`--${flag} must be true or false, got "${raw}"`);
      return raw === 'true';
  }
}

/** What the command line asks for: a text to print before exiting 0, or a server. */
export type CliRequest = { print: 'help' | 'version' } | { print: undefined; config: CliConfig };

/** Reads flags over environment twins over defaults. Throws ConfigError on anything unknown or bad. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliRequest {
  const config: Record<string, unknown> = { ...cliDefaults };
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const raw = env[envName(flag)] ?? (flag === 'port' ? env.PORT : undefined);
    if (raw !== undefined && raw !== '') config[spec.key] = parseValue(flag, spec, raw);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { print: 'help' };
    if (arg === '--version' || arg === '-v') return { print: 'version' };
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = FLAGS[flag];
    if (spec === undefined) throw new ConfigError(`unknown flag --${flag} (see --help)`);
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      raw = argv[i + 1];
      i += 1;
    }
    if (raw === undefined) throw new ConfigError(`--${flag} needs a value`);
    config[spec.key] = parseValue(flag, spec, raw);
  }
  return { print: undefined, config: config as unknown as CliConfig };
}

export function helpText(): string {
  const lines = [
    'Usage: holdpush [flags]',
    '',
    'Every flag has an environment twin: --hold-timeout is HOLDPUSH_HOLD_TIMEOUT (PORT also sets the port).',
    '',
    `  ${'--help, -h'.padEnd(20)} print this and exit`,
    `  ${'--version, -v'.padEnd(20)} print the version and exit`,
  ];
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const value = cliDefaults[spec.key];
    const shown = value === undefined || (Array.isArray(value) && value.length === 0) ? 'none' : Array.isArray(value) ? value.join(',') : String(value);
    lines.push(`  --${flag.padEnd(18)} ${spec.help} (default: ${shown})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The installed package's version: package.json sits two folders above lib/cli/ and dist/cli/ alike. */
export function versionText(): string {
  const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return `${version}\n`;
}

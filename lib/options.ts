// The options of createHoldpush, their defaults and their validation.
import { parseAddressRule } from './http/address';
import { DEFAULT_BUFFER_BYTES } from './stores/memory/budget';

import { echo } from './errors';
import { checkAuthSettings } from './auth/settings';
import type { Authorize } from './auth/types';

export type LogFormat = 'text' | 'json' | 'off';
export type FirstMessage = 'oldest' | 'newest';

export interface HoldpushOptions {
  /** Seconds a long-poll is held before it is answered empty (minus up to 10% jitter). @defaultValue 30 */
  holdTimeout: number;
  /** Seconds between keepalive comments on EventSource streams. @defaultValue 15 */
  keepalive: number;
  /** Messages kept per channel. @defaultValue 1000 */
  buffer: number;
  /** Seconds a message is kept. @defaultValue 3600 */
  messageTtl: number;
  /** Largest message in bytes; more gets 413. @defaultValue 65536 */
  maxMessage: number;
  // Memory budgets (docs/protocol.md, "Memory").
  /**
   * Bytes all buffered messages may take together: the memory store's (the primary's with
   * `--workers`; Redis bounds its own). A publish that would pass it first drops the oldest
   * messages of any channel; a message larger than it gets 413. @defaultValue 268435456 (256 MiB)
   */
  maxBufferBytes: number;
  /**
   * Bytes written to subscribers' connections but not yet taken by them, all connections of
   * this process together. Past it the connections with the most unsent bytes are cut first
   * (their clients come back with their positions). @defaultValue 268435456 (256 MiB)
   */
  maxPendingBytes: number;
  /** Held long-polls and streams at once in this process; more gets 503. @defaultValue 100000 */
  maxSubscribers: number;
  /** Channels alive at once in this process; more gets 503. @defaultValue 100000 */
  maxChannels: number;
  /** Where a `/sub` request without a position starts. @defaultValue 'oldest' */
  firstMessage: FirstMessage;
  /** When set, every publisher needs it as `Authorization: Bearer`. @defaultValue undefined */
  publishToken: string | undefined;
  /** When set, subscribers need an HS256 JWT signed with it. @defaultValue undefined */
  subscribeSecret: string | undefined;
  /** `Access-Control-Allow-Origin` of every answer. @defaultValue '*' */
  corsOrigin: string;
  /** Addresses and CIDRs that may publish without a token. @defaultValue ['127.0.0.0/8', '::1'] */
  publishAllow: string[];
  /**
   * Proxies (addresses, CIDRs, or `'loopback'`) whose `X-Forwarded-For` / `Forwarded` name the
   * client; without one, a forwarded request may not publish by address. @defaultValue []
   */
  trustProxy: string[];
  /** Seconds a shutdown may take. @defaultValue 5 */
  shutdownTimeout: number;
  /**
   * One request line per finished request, written with `logWrite` (standard output by
   * default). An app that embeds holdpush keeps its standard output to itself unless it asks.
   * @defaultValue 'off' (the `holdpush` command: 'text')
   */
  log: LogFormat;
  /** Mount path, e.g. '/push'; '' serves at the root. @defaultValue '' */
  prefix: string;
  /**
   * Write prebuilt answers (messages, batches, channel info) as one serialised head handed to
   * node:http, instead of `writeHead` per response, and each EventSource event as one prebuilt
   * chunk written to the connection, instead of `res.write` per stream. The bytes on the wire
   * are the same either way; false is the way out should a Node release change the internals this relies on (it is
   * also checked once at start, and falls back to `writeHead` by itself on a mismatch).
   * @defaultValue true
   */
  fastWire: boolean;

  // Letting the app decide who may subscribe and publish (docs/authorization.md).
  /**
   * An http(s) URL of the app, asked with `GET` before every subscription and every publish
   * (a valid `publishToken` settles a publish without asking); `2xx` allows, `401`/`403`
   * refuse. With it, `publishAllow` no longer lets an address publish on its own.
   * @defaultValue undefined
   */
  authUrl: string | undefined;
  /** Seconds the app (or `authorize`) has to answer; then the client gets `503`. @defaultValue 5 */
  authTimeout: number;
  /**
   * Seconds an answer of `authUrl` is kept per (op, method, channels, Cookie, Authorization),
   * unless its `Cache-Control` says `max-age` or `no-store`; 0 asks every time. @defaultValue 10
   */
  authCache: number;
  /**
   * The in-process twin of `authUrl` (give one of them): decides each subscription and publish
   * from the request (and what your middleware put on it). Asked every time, never cached.
   * @defaultValue undefined
   */
  authorize: Authorize | undefined;

  /**
   * Seconds the answer to a publish with an `Idempotency-Key` is remembered: the same key
   * within it gets that answer again and publishes nothing. @defaultValue 300
   */
  idempotencyTtl: number;

  // Telling the app when channels gain their first subscriber and lose their last (docs/presence.md).
  /**
   * Where occupancy events are POSTed (`http:` or `https:`), once per deployment; none without.
   * @defaultValue undefined
   */
  webhookUrl: string | undefined;
  /** Signs every delivery: `X-Holdpush-Signature: sha256=<HMAC of the body>` (16 characters at least). @defaultValue undefined */
  webhookSecret: string | undefined;
  /** Seconds a channel has had no subscriber anywhere before it is vacated. @defaultValue 5 */
  vacateDelay: number;
  /** Deliveries waiting at most; one more is dropped and counted. @defaultValue 1000 */
  webhookQueue: number;
  /**
   * The unit of the retry schedule, in seconds: a failed delivery is tried again after 1, 2, 4 ...
   * units, at most 60 apart, and given up 300 units after its first try. @defaultValue 1
   */
  webhookRetry: number;
}

export const defaultOptions: Readonly<HoldpushOptions> = {
  holdTimeout: 30,
  keepalive: 15,
  buffer: 1000,
  messageTtl: 3600,
  maxMessage: 65536,
  maxBufferBytes: DEFAULT_BUFFER_BYTES,
  maxPendingBytes: 256 * 1024 * 1024,
  maxSubscribers: 100000,
  maxChannels: 100000,
  firstMessage: 'oldest',
  publishToken: undefined,
  subscribeSecret: undefined,
  corsOrigin: '*',
  publishAllow: ['127.0.0.0/8', '::1'],
  trustProxy: [],
  shutdownTimeout: 5,
  log: 'off',
  prefix: '',
  fastWire: true,
  authUrl: undefined,
  authTimeout: 5,
  authCache: 10,
  authorize: undefined,
  idempotencyTtl: 300,
  webhookUrl: undefined,
  webhookSecret: undefined,
  vacateDelay: 5,
  webhookQueue: 1000,
  webhookRetry: 1,
};

function positive(name: string, value: unknown, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
  return value;
}

function optionalText(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

/** Flags of the `holdpush` command that an embedded instance does not take, and what does their work. */
const LISTEN = 'an embedded holdpush does not listen: your server does (createHoldpushServer() returns one to listen on)';
const NOT_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['port', LISTEN],
  ['host', LISTEN],
  ['workers', 'an app runs its own processes; processes share messages through the store option (createRedisStore)'],
  ['redis', 'Redis goes through the store option: { store: (context) => createRedisStore({ url, ...context }) }'],
]);

/** Longest option name compared for a "did you mean"; a longer one is no typo of ours. */
const SUGGEST_LIMIT = 64;

/** Edit distance (insert, delete, substitute), for short names only. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The known name a mistyped one was likely meant to be: a flag's camelCase, a case slip, or a typo. */
function suggestion(name: string, known: readonly string[]): string | undefined {
  if (name.length > SUGGEST_LIMIT) return undefined;
  const camel = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const exact = known.find((candidate) => candidate.toLowerCase() === camel.toLowerCase());
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Throws a TypeError naming the first option that is not one: an unknown name, or a flag of
 * the command that an app does its own way. `more` are the options beside HoldpushOptions.
 */
export function checkOptionNames(given: unknown, more: readonly string[]): void {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new TypeError('options must be an object');
  const known = [...Object.keys(defaultOptions), ...more];
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue;
    const instead = NOT_OPTIONS.get(name);
    if (instead !== undefined) throw new TypeError(`${name} is not an option of createHoldpush: ${instead}`);
    const hint = suggestion(name, known);
    throw new TypeError(`unknown option ${echo(name)}${hint === undefined ? '' : ` (did you mean ${hint}?)`}`);
  }
}

/** Fills defaults and checks every option; a programmer's mistake throws a TypeError. */
export function resolveOptions(given: Partial<HoldpushOptions> = {}): HoldpushOptions {
  const o = { ...defaultOptions, ...stripUndefined(given) };
  positive('holdTimeout', o.holdTimeout, false);
  positive('keepalive', o.keepalive, false);
  positive('buffer', o.buffer, true);
  positive('messageTtl', o.messageTtl, false);
  positive('maxMessage', o.maxMessage, true);
  positive('maxBufferBytes', o.maxBufferBytes, true);
  positive('maxPendingBytes', o.maxPendingBytes, true);
  positive('maxSubscribers', o.maxSubscribers, true);
  positive('maxChannels', o.maxChannels, true);
  positive('shutdownTimeout', o.shutdownTimeout, false);
  positive('idempotencyTtl', o.idempotencyTtl, false);
  if (o.firstMessage !== 'oldest' && o.firstMessage !== 'newest') throw new TypeError("firstMessage must be 'oldest' or 'newest'");
  if (o.log !== 'text' && o.log !== 'json' && o.log !== 'off') throw new TypeError("log must be 'text', 'json' or 'off'");
  if (typeof o.fastWire !== 'boolean') throw new TypeError(`fastWire must be true or false, got ${String(o.fastWire)}`);
  optionalText('publishToken', o.publishToken);
  optionalText('subscribeSecret', o.subscribeSecret);
  if (typeof o.corsOrigin !== 'string' || o.corsOrigin === '' || /[\r\n]/.test(o.corsOrigin)) throw new TypeError('corsOrigin must be a non-empty header value');
  if (!Array.isArray(o.publishAllow) || o.publishAllow.some((entry) => typeof entry !== 'string')) throw new TypeError('publishAllow must be an array of addresses or CIDRs');
  if (!Array.isArray(o.trustProxy)) throw new TypeError("trustProxy must be an array of addresses, CIDRs or 'loopback'");
  for (const entry of o.trustProxy as unknown[]) {
    if (typeof entry !== 'string' || (entry.trim() !== 'loopback' && parseAddressRule(entry.trim()) === null)) {
      throw new TypeError(`trustProxy: not an address, CIDR or 'loopback': ${JSON.stringify(entry)}`);
    }
  }
  checkAuthSettings(o);
  if (typeof o.prefix !== 'string' || (o.prefix !== '' && (!o.prefix.startsWith('/') || o.prefix.endsWith('/')))) {
    throw new TypeError("prefix must be '' or start with '/' and not end with '/' (e.g. '/push')");
  }
  checkOccupancy(o);
  return { ...o, publishAllow: [...o.publishAllow], trustProxy: [...o.trustProxy] };
}

/** Shortest webhook secret: an HMAC key a guess cannot find. */
const SECRET_MIN = 16;

function checkOccupancy(o: HoldpushOptions): void {
  positive('vacateDelay', o.vacateDelay, false);
  positive('webhookQueue', o.webhookQueue, true);
  positive('webhookRetry', o.webhookRetry, false);
  if (o.webhookUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof o.webhookUrl === 'string' ? new URL(o.webhookUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new TypeError(`webhookUrl must be an http:// or https:// URL, got ${echo(String(o.webhookUrl))}`);
  }
  if (o.webhookSecret !== undefined) {
    if (typeof o.webhookSecret !== 'string' || o.webhookSecret.length < SECRET_MIN) throw new TypeError(`webhookSecret must be a string of at least ${SECRET_MIN} characters`);
    if (o.webhookUrl === undefined) throw new TypeError('webhookSecret signs webhook deliveries: it needs webhookUrl');
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, entry] of Object.entries(value)) if (entry !== undefined) (out as Record<string, unknown>)[key] = entry;
  return out;
}

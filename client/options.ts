/** subscribe()'s arguments, checked: a programmer's mistake throws a TypeError naming it. */
import type { EventSourceClass, FetchLike, GapInfo, Message, Status, StatusDetail, SubscribeOptions, Target, Transport } from './types';

const NAME = /^[A-Za-z0-9_.@~-]{1,128}$/;
export const MAX_CHANNELS = 16;
const TRANSPORTS: readonly Transport[] = ['batch', 'longpoll', 'eventsource'];
const KNOWN: ReadonlySet<string> = new Set<keyof SubscribeOptions>([
  'base', 'transport', 'position', 'token', 'headers', 'backoff', 'events', 'fetch', 'EventSource', 'onStatus', 'onGap', 'onError', 'shared',
]);

export function typeError(message: string): TypeError {
  return new TypeError(`Holdpush.subscribe: ${message}`);
}

export function validName(s: unknown): s is string {
  return typeof s === 'string' && NAME.test(s) && s !== '.' && s !== '..';
}

/** What a connection asks the server for: one uid (demo face), or channels. */
export type Wanted = { readonly uid: string; readonly channels: null } | { readonly uid: null; readonly channels: readonly string[] };

export function normalizeTarget(target: Target): Wanted {
  if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
    const uid = (target as { uid?: unknown }).uid;
    if (!validName(uid)) throw typeError('uid must be 1-128 characters of A-Z a-z 0-9 _ - . @ ~');
    return { uid, channels: null };
  }
  const list: unknown = typeof target === 'string' ? [target] : target;
  if (!Array.isArray(list) || list.length === 0) {
    throw typeError("target must be a channel name, an array of 1-16 channel names, or { uid: '...' }");
  }
  if (list.length > MAX_CHANNELS) throw typeError(`at most ${MAX_CHANNELS} channels per subscription`);
  for (const name of list) {
    if (!validName(name)) throw typeError(`bad channel name ${JSON.stringify(String(name).slice(0, 40))}`);
  }
  return { uid: null, channels: (list as string[]).slice() };
}

/** Everything a connection needs, resolved from the options and the environment. */
export interface Settings {
  readonly wanted: Wanted;
  /** The mount URL, ending in `/`. */
  readonly base: string;
  readonly transport: Transport;
  readonly position: string | null;
  readonly token: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly events: readonly string[];
  readonly backoff: { readonly min: number; readonly max: number };
  readonly fetch: FetchLike | null;
  readonly EventSource: EventSourceClass | null;
}

/** The callbacks of one subscription (absent ones are no-ops). */
export interface Callbacks {
  readonly onMessage: (message: Message) => void;
  readonly onStatus: ((status: Status, detail: StatusDetail) => void) | null;
  readonly onGap: ((info: GapInfo) => void) | null;
  readonly onError: ((error: unknown) => void) | null;
}

function defaultBase(): string | null {
  const here = (globalThis as { location?: { href?: unknown } }).location;
  if (here && typeof here.href === 'string' && typeof URL === 'function') return new URL('.', here.href).href;
  return null;
}

function fn<T>(value: unknown, name: string): T | null {
  if (value == null) return null;
  if (typeof value !== 'function') throw typeError(`options.${name} must be a function`);
  return value as T;
}

/**
 * The checked arguments. `shared` says whether the subscription may share a connection with
 * other tabs: asked for (the default), `batch`, channels, and no `fetch` of its own (another
 * tab's connection would not use it).
 */
export function resolve(target: Target, onMessage: unknown, options: SubscribeOptions | undefined): { settings: Settings; callbacks: Callbacks; shared: boolean } {
  const opts: SubscribeOptions = options ?? {};
  if (typeof opts !== 'object') throw typeError('options must be an object');
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) throw typeError(`unknown option ${JSON.stringify(key.slice(0, 40))}`);
  }
  const wanted = normalizeTarget(target);
  if (typeof onMessage !== 'function') throw typeError('onMessage must be a function');

  let base = opts.base != null ? String(opts.base) : defaultBase();
  if (!base) throw typeError('options.base is required outside a browser (the server mount URL)');
  if (base.charAt(base.length - 1) !== '/') base += '/';

  const transport = opts.transport ?? (wanted.uid !== null ? 'longpoll' : 'batch');
  if (!TRANSPORTS.includes(transport)) throw typeError("options.transport must be 'batch', 'longpoll' or 'eventsource'");
  if (wanted.uid !== null && transport !== 'longpoll') throw typeError("a { uid } subscription only supports transport 'longpoll'");

  const globalFetch = typeof fetch === 'function' ? (fetch as unknown as FetchLike) : null;
  const globalEventSource = (globalThis as { EventSource?: EventSourceClass }).EventSource ?? null;
  const fetchFn = fn<FetchLike>(opts.fetch, 'fetch') ?? globalFetch;
  const EventSourceFn = fn<EventSourceClass>(opts.EventSource, 'EventSource') ?? globalEventSource;
  if (transport === 'eventsource') {
    if (!EventSourceFn) throw typeError('no EventSource here: pass options.EventSource');
  } else {
    if (!fetchFn) throw typeError('no fetch here: pass options.fetch');
    if (typeof AbortController !== 'function') throw typeError('AbortController is required');
  }

  const min = opts.backoff?.min != null ? Number(opts.backoff.min) : 500;
  const max = opts.backoff?.max != null ? Number(opts.backoff.max) : 30000;
  if (!(min >= 0) || !(max >= min)) throw typeError('options.backoff needs 0 <= min <= max');

  const headers: Record<string, string> = {};
  if (opts.headers != null) {
    if (typeof opts.headers !== 'object') throw typeError('options.headers must be an object of header names to values');
    for (const key of Object.keys(opts.headers)) headers[key] = String(opts.headers[key]);
  }
  if (opts.events != null && !Array.isArray(opts.events)) throw typeError('options.events must be an array of event names');
  if (opts.shared != null && typeof opts.shared !== 'boolean') throw typeError('options.shared must be true or false');

  return {
    settings: {
      wanted,
      base,
      transport,
      position: opts.position != null && opts.position !== '' ? String(opts.position) : null,
      token: opts.token ? String(opts.token) : null,
      headers,
      events: opts.events ? opts.events.map(String) : [],
      backoff: { min, max },
      fetch: fetchFn,
      EventSource: EventSourceFn,
    },
    callbacks: {
      onMessage: onMessage as Callbacks['onMessage'],
      onStatus: fn(opts.onStatus, 'onStatus'),
      onGap: fn(opts.onGap, 'onGap'),
      onError: fn(opts.onError, 'onError'),
    },
    shared: opts.shared !== false && transport === 'batch' && wanted.uid === null && opts.fetch == null,
  };
}

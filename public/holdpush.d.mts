/*! holdpush client. MIT. Built by scripts/build-client.js from client/*.ts: edit those, not this file. */
/**
 * The client's public types. This file is declarations only, with no imports: the build copies
 * it into `public/holdpush.d.ts` and `public/holdpush.d.mts`, so what users type-check against is
 * what the implementation is checked against.
 */

/** What to subscribe to: a channel, an array of 1-16 channels, or a uid on the demo face (`/?uid=`). */
export type Target = string | readonly string[] | { readonly uid: string };

/**
 * How messages are fetched: `batch` (JSON long-poll, every message after the position in one
 * answer), `longpoll` (one message per answer, Nchan's), `eventsource` (a stream).
 */
export type Transport = 'batch' | 'longpoll' | 'eventsource';

/** Where a subscription stands in its life. */
export type Status = 'connecting' | 'open' | 'reconnecting' | 'stopped';

/**
 * Who holds the connection: this subscription on its own (`alone`), this tab for every tab of
 * the origin (`leader`), or another tab, which hands the messages over (`follower`).
 */
export type Role = 'alone' | 'leader' | 'follower';

/** One message, in publish order. */
export interface Message {
  /** `"<unix seconds>:<token>"`: pass it back as `position` to resume after this message. */
  readonly id: string | null;
  /** The channel it was published to; null where the wire does not say (see docs/client.md). */
  readonly channel: string | null;
  /** Publish time in Unix milliseconds, when known. */
  readonly time: number | null;
  /** The publisher's content type, when the transport carries it. */
  readonly contentType: string | null;
  /** The message as text; with `encoding: 'base64'`, its bytes in base64. */
  readonly data: string;
  /** `'base64'` when the bytes were not UTF-8 (batch only). */
  readonly encoding?: 'base64';
  /** The publisher's `X-EventSource-Event` name (eventsource only, for names in `events`). */
  readonly event?: string;
  /** True on the first message after a gap (messages were dropped before they reached you). */
  readonly gap: boolean;
}

/** What `onGap` is told: messages after `position` were dropped; `oldest` is the first one left. */
export interface GapInfo {
  readonly position: string | null;
  readonly oldest: string | null;
}

/** Why a subscription stopped. */
export type StopReason = 'stopped' | 'gone' | 'error';

/** The second argument of `onStatus`. */
export interface StatusDetail {
  /** Who holds the connection now. */
  readonly role: Role;
  /** `reconnecting`: milliseconds until the next try (null: the EventSource retries by itself). */
  readonly delay?: number | null;
  /** The HTTP status that caused a `reconnecting` or `stopped`, when there was one. */
  readonly status?: number;
  /** A short code: the server's `error` field, or `network`, `eventsource`, `no_etag`, `gone`. */
  readonly error?: string | null;
  /** Human words (the server's `message`, cut to 200 characters). */
  readonly message?: string | null;
  /** `stopped` only: `stopped` (stop() was called), `gone` (410: the channel was deleted), `error`. */
  readonly reason?: StopReason;
}

/** The part of a `fetch` Response the client reads. */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The AbortSignal type where the program has one (the DOM's or Node's types), else unknown. */
export type AbortSignalType = typeof globalThis extends { AbortSignal: { prototype: infer S } } ? S : unknown;

/** What the client passes to `fetch`. */
export interface FetchInit {
  method: 'GET';
  headers: Record<string, string>;
  cache: 'no-store';
  signal: AbortSignalType;
}

/** A `fetch` function: the global one, or your own (a wrapper that adds cookies or logs). */
export type FetchLike = {
  // A method's parameters are checked both ways, so the real `fetch` (whose init is wider) fits.
  bivariant(url: string, init: FetchInit): Promise<ResponseLike>;
}['bivariant'];

/** The part of an EventSource the client uses. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: { readonly data?: unknown; readonly lastEventId?: string; readonly type: string }) => void): void;
  close(): void;
}

/** An EventSource class: the browser's, or one for Node (e.g. the `eventsource` package). */
export type EventSourceClass = new (url: string) => EventSourceLike;

export interface SubscribeOptions {
  /** The holdpush mount URL, e.g. `https://example.com/push/`. @defaultValue the page's folder (required outside a browser) */
  base?: string;
  /** @defaultValue `'batch'` for channels, `'longpoll'` (the only one) for a uid */
  transport?: Transport;
  /** Resume after this message id (or token): nothing before it is delivered again. @defaultValue none: where the server starts (`--first-message`) */
  position?: string | null;
  /** A subscribe token (`--subscribe-secret`): sent as `Authorization: Bearer`, or `?token=` for EventSource. */
  token?: string;
  /** Extra request headers (not for EventSource, which cannot send any). */
  headers?: Readonly<Record<string, string>>;
  /** Retry delays after errors, in ms: full jitter, doubling from `min` up to `max`. @defaultValue `{ min: 500, max: 30000 }` */
  backoff?: { readonly min?: number; readonly max?: number };
  /** EventSource event names (`X-EventSource-Event`) to deliver besides `message`. */
  events?: readonly string[];
  /** @defaultValue the global `fetch` */
  fetch?: FetchLike;
  /** @defaultValue the global `EventSource` */
  EventSource?: EventSourceClass;
  /** Called on every change of status, and when the connection changes hands between tabs. */
  onStatus?: (status: Status, detail: StatusDetail) => void;
  /** Called when messages were dropped before they reached you (the next message has `gap: true`). */
  onGap?: (info: GapInfo) => void;
  /** Called with what a callback threw. @defaultValue `console.error` */
  onError?: (error: unknown) => void;
  /**
   * Share one connection with this origin's other tabs (BroadcastChannel and Web Locks), where
   * the browser has both. Only `batch` subscriptions to channels without their own `fetch`
   * share; see docs/client.md. @defaultValue true
   */
  shared?: boolean;
}

/** A running subscription. */
export interface Subscription {
  /** Ends it: aborts the request in flight, leaves no timer behind; idempotent. */
  stop(): void;
  /** Where it stands (a message id or token), or null: pass it as `position` to resume. */
  readonly position: string | null;
  readonly status: Status;
  readonly transport: Transport;
  /** Who holds its connection now. */
  readonly role: Role;
}

/** `subscribe(target, onMessage, options)`: calls `onMessage` for every message, in publish order. */
export type Subscribe = (target: Target, onMessage: (message: Message) => void, options?: SubscribeOptions) => Subscription;

/** Subscribes to channels (or a uid) and calls `onMessage` for every message, in publish order. */
export declare const subscribe: Subscribe;

/** The client's version (its API, not the package's). */
export declare const version: string;

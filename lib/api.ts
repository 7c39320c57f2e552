// The public types of createHoldpush: its options, its store factories, and what it returns.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Write } from './http/log';
import type { Stats } from './ops';
import type { HoldpushOptions } from './options';
import type { OccupancyEvent } from './presence/occupancy';
import type { MessageStore } from './stores/store';

/** What a store factory is told: the limits, and whether this process holds a channel now. */
export interface StoreContext {
  readonly buffer: number;
  readonly messageTtl: number;
  readonly maxChannels: number;
  /** Bytes all buffered messages may take together (a store that keeps them in this process). */
  readonly maxBufferBytes: number;
  isHeld(channel: string): boolean;
}

export type StoreFactory = (context: StoreContext) => MessageStore;

export interface CreateHoldpushOptions extends Partial<HoldpushOptions> {
  /** Where messages live. @defaultValue an in-memory store */
  store?: StoreFactory;
  /** The folder of the pages and the browser client. @defaultValue the package's `public/` */
  publicDir?: string;
  /** Where request log lines go (with `log` set to 'text' or 'json'). @defaultValue standard output */
  logWrite?: Write;
}

export interface PublishOptions {
  /** @defaultValue 'text/plain; charset=utf-8' */
  contentType?: string;
  /** EventSource event name. */
  event?: string;
  /**
   * Publishes once per key: the same key within `idempotencyTtl` seconds publishes nothing and
   * resolves with the first call's result (`replayed: true`); the same key with other arguments
   * rejects with an IdempotencyConflictError. 1-255 visible ASCII characters.
   */
  idempotencyKey?: string;
}

export interface PublishResult {
  /** The message id, `"<unix seconds>:<token>"`. */
  readonly id: string;
  /**
   * Held subscribers (long-polls and streams) of the deployment it was written to: this
   * process's, plus the other processes' as last heard (at most 1 s old).
   */
  readonly delivered: number;
  /** True when an earlier call with the same `idempotencyKey` published it, and this one nothing. */
  readonly replayed: boolean;
}

/** One message of `publishMany()`. */
export interface BatchMessage {
  /** A channel, one uid (`'uid:<uid>'`) or every uid (`'uid:*'`), as `publish()`'s target. */
  channel: string;
  data: string | Uint8Array;
  /** @defaultValue 'text/plain; charset=utf-8' */
  contentType?: string;
  /** EventSource event name. */
  event?: string;
}

export interface PublishManyOptions {
  /** As `publish()`'s: the whole batch is published once per key. */
  idempotencyKey?: string;
}

export interface PublishManyResult {
  /** The message ids, in the order given. */
  readonly ids: readonly string[];
  /**
   * Held subscribers of the deployment written to, all messages together: this process's, plus
   * the other processes' on each message's channel as last heard (at most 1 s old).
   */
  readonly delivered: number;
  /** True when an earlier call with the same `idempotencyKey` published them, and this one nothing. */
  readonly replayed: boolean;
}

export interface Holdpush {
  readonly options: Readonly<HoldpushOptions>;
  /**
   * Answers holdpush's routes and returns true; returns false, touching nothing, for others.
   * Best mounted before the app's body parsers; after them it answers at once with what they
   * left on `req.body` (or 400 `body_consumed`), never waiting for a body already read.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Serves holdpush on a server; returns the function that takes it off again. */
  attach(server: Server): () => void;
  /**
   * Publishes to a channel, to one uid (`'uid:<uid>'`), or to every uid (`'uid:*'`). A bad
   * target, data or option rejects with a TypeError (a message over `maxMessage` with a
   * RangeError); it never throws.
   */
  publish(target: string, data: string | Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Publishes up to 1000 messages in the order given (their ids increase in it), all or none:
   * every message is checked first, and bad input rejects with a TypeError (a size with a
   * RangeError) naming the message's index, publishing nothing; it never throws.
   */
  publishMany(messages: readonly BatchMessage[], options?: PublishManyOptions): Promise<PublishManyResult>;
  stats(): Stats;
  /**
   * `'occupancy'`: a channel (or a seed face uid, `uid:<uid>`) got its first subscriber in the
   * deployment (`channel.occupied`), or has had none for `vacateDelay` seconds
   * (`channel.vacated`). The events of the webhook, told in the process that decides them: this
   * one, or on Redis the one server elected to (docs/presence.md). A listener that throws is
   * an uncaught exception, as with any EventEmitter.
   */
  on(event: 'occupancy', listener: (event: OccupancyEvent) => void): this;
  once(event: 'occupancy', listener: (event: OccupancyEvent) => void): this;
  off(event: 'occupancy', listener: (event: OccupancyEvent) => void): this;
  /** Answers every held request (503, streams end) and stops; idempotent. */
  close(): Promise<void>;
}

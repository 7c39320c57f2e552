/**
 * The message store: where messages live between publish and delivery.
 *
 * One interface for every deployment (one process, a cluster's primary, Redis). Positions are
 * cursor tokens the store issued; it alone can compare them, so callers treat them as opaque.
 * What a store can do beyond the common methods it says by its capabilities (`immediate`,
 * `wakesInStep`, `deployment`, `counts`); the core asks those, never the store's `kind`.
 */
import type { IdempotencyLedger } from '../idempotency/ledger';
import type { SharedCounts } from '../presence/shared';
import type { DeploymentFigures } from './figures';

/** What every store is made with: its limits, and whether this process holds a channel now. */
export interface StoreLimits {
  /** Messages kept per channel. */
  buffer: number;
  /** Seconds a message is kept. */
  messageTtl: number;
  /** Channels alive at once (in everything sharing the store); creating one more fails. */
  maxChannels: number;
  /** Whether a subscriber of this process holds the channel now (a held channel is never forgotten). */
  isHeld(channel: string): boolean;
}

/** What a publisher hands over. */
export interface MessageInput {
  data: Buffer;
  /** The publisher's content type; the store keeps it as given. */
  contentType: string;
  /** EventSource event name (`X-EventSource-Event`), when the publisher sent one. */
  event?: string;
}

/** One message of a batch: what a publisher hands over, and its channel. */
export interface BatchInput extends MessageInput {
  readonly channel: string;
}

/** A message as stored: immutable once appended. */
export interface StoredMessage {
  readonly channel: string;
  /** Cursor token: unique and strictly increasing in publish order across the deployment. */
  readonly token: string;
  /** `"<unix seconds>:<token>"`, the shape of Nchan's `time:tag`. */
  readonly id: string;
  /** Publish time in Unix milliseconds. */
  readonly time: number;
  readonly contentType: string;
  readonly event: string | undefined;
  readonly data: Buffer;
}

export interface ReadResult {
  /** Messages strictly after the position, in publish order across the channels read. */
  readonly messages: StoredMessage[];
  /** True when a message after the position was dropped, or the position was never issued. */
  readonly gap: boolean;
  /**
   * Where a reader stands after this read when it takes every message returned: the last
   * message's token, or the store's head when none came back.
   */
  readonly head: string;
  /** More messages remain after `messages` (the limit was reached). */
  readonly more: boolean;
}

export interface ChannelInfo {
  readonly messages: number;
  readonly lastMessageId: string | undefined;
  /** Unix milliseconds of the last subscriber request; undefined when none ever came. */
  readonly requested: number | undefined;
}

/** An append's message, and its channel's info just after it. */
export interface AppendResult {
  readonly message: StoredMessage;
  readonly info: ChannelInfo;
}

export interface StoreStats {
  readonly channels: number;
  readonly bufferBytes: number;
  readonly expired: number;
  readonly evicted: number;
}

export interface StoreEvents {
  /**
   * A message was appended (by this process or, for shared stores, by any other). Messages
   * come in token order, each once: a stream writes them as they come.
   */
  message(message: StoredMessage): void;
  /** A channel and its buffer were deleted. */
  deleted(channel: string): void;
}

export type StoreKind = 'memory' | 'cluster' | 'redis';

/**
 * The reads of a store that answers at once (the memory store), without a promise: a
 * long-poll is then answered or held inside its request event, with no microtask between.
 */
export interface ImmediateReads {
  read(channels: readonly string[], after: string | null, limit: number): ReadResult;
  head(): string;
  touch(channels: readonly string[]): boolean;
}

export interface MessageStore {
  /** What the store is, for the `store` figure of /stats; behaviour follows the capabilities. */
  readonly kind: StoreKind;
  /**
   * Present when reads need no I/O; the promise-returning methods give the same answers. The
   * core reads this way only when wake-ups come in step too.
   */
  readonly immediate?: ImmediateReads;
  /**
   * True when the store tells this process's watchers of a message inside the `append` that made
   * it, before any read can return it: then no read can race a wake-up. @defaultValue false
   */
  readonly wakesInStep?: boolean;
  /** Present when the store gathers the figures of every process that shares it. */
  readonly deployment?: DeploymentFigures;
  /**
   * Present when the store keeps every buffered message within this many bytes, dropping the
   * oldest first (`--max-buffer-bytes`): a larger message could never be held, so the core
   * refuses it (413) before it reaches `append`, which would reject it with a RangeError.
   */
  readonly bufferBudget?: number;
  /** Present when the processes sharing the store share their subscriber counts per channel. */
  readonly counts?: SharedCounts;
  /** Appends and tells every watcher before the returned promise settles (for local watchers). */
  append(channel: string, input: MessageInput): Promise<StoredMessage>;
  /**
   * Present when the store tells the channel's info (as `info` would just after) with the append,
   * in the same step: a publish answered with the info then makes no second call. Otherwise as `append`.
   */
  appendWithInfo?(channel: string, input: MessageInput): Promise<AppendResult>;
  /**
   * Appends every message in the given order (tokens increase in it), or none: a batch the store
   * refuses (the channel limit, the store unavailable) leaves nothing behind. Watchers hear each
   * message as with `append`. One round trip to a shared store, however many messages.
   */
  appendMany(inputs: readonly BatchInput[]): Promise<StoredMessage[]>;
  /** Where publishes with an `Idempotency-Key` are decided, for every process that shares the store. */
  readonly idempotency: IdempotencyLedger;
  /** Up to `limit` messages after `after` (a token, or null for the oldest held). */
  read(channels: readonly string[], after: string | null, limit: number): Promise<ReadResult>;
  /** The position just before the next message, even when no message exists yet. */
  head(): Promise<string>;
  /**
   * True when `token` (a message's) comes strictly after `position` (a token this store gave
   * out, or one it never issued, which every message follows). Lets a subscriber skip a
   * message it already read when the wake-up arrives after the read.
   */
  follows(token: string, position: string): boolean;
  /**
   * Notes that a subscriber asked for these channels, creating them when needed. Resolves to
   * false, creating nothing, when that would pass the channel limit.
   */
  touch(channels: readonly string[]): Promise<boolean>;
  info(channel: string): Promise<ChannelInfo | null>;
  /** Deletes a channel and its buffer; false when it did not exist. */
  delete(channel: string): Promise<boolean>;
  /** Tells the store that nobody holds this channel any more, so an empty one may be forgotten. */
  released(channel: string): void;
  /** Adds a watcher; returns the function that removes it. One that throws stops no other. */
  watch(events: StoreEvents): () => void;
  stats(): StoreStats;
  close(): Promise<void>;
}

/** Raised by a store that cannot serve now (Redis down, channel limit): answered with 503. */
export class StoreUnavailableError extends Error {
  constructor(
    readonly code: 'store_unavailable' | 'too_many_channels',
    message: string,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The error of a store that cannot serve: `subject` says who failed, `cause` how (a message, or
 * an error, whose message is cut short). An unavailable error passes through as it is.
 */
export function unavailable(subject: string, cause: unknown): StoreUnavailableError {
  if (cause instanceof StoreUnavailableError) return cause;
  const words = cause instanceof Error ? cause.message : String(cause);
  return new StoreUnavailableError('store_unavailable', `${subject} ${words.slice(0, 200)}`);
}

/** The refusal of an append that would make a channel beyond `maxChannels` (every store's words). */
export function tooManyChannels(maxChannels: number): StoreUnavailableError {
  return new StoreUnavailableError('too_many_channels', `at most ${maxChannels} channels may be alive at once`);
}

/** Builds a message id from a publish time (ms) and a token. */
export function messageId(time: number, token: string): string {
  return `${Math.floor(time / 1000)}:${token}`;
}

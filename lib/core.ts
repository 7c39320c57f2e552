// What every face is handed: the options, the store, the registry and the answers of one createHoldpush.
import type { ServerResponse } from 'node:http';
import type { Gate } from './auth/authorize';
import type { BatchAnswerOf } from './batch-answers';
import type { EncodedMessage } from './encoded-message';
import type { ErrorCode } from './errors';
import type { HeaderPairs } from './http/answer';
import type { IdempotencyGate } from './idempotency/gate';
import type { HoldpushOptions } from './options';
import type { PendingBytes } from './pending-bytes';
import type { Registry } from './registry';
import type { BatchInput, ChannelInfo, ImmediateReads, MessageInput, MessageStore, StoredMessage } from './stores/store';

/** The result of a publish: the message and how many held subscribers of the deployment it was written to. */
export interface Published {
  readonly message: StoredMessage;
  readonly delivered: number;
  /** The channel's info just after the append, when the store told it with the append (`appendWithInfo`). */
  readonly info: ChannelInfo | undefined;
}

/** The result of a batch publish: its messages in order, and the held subscribers of the deployment written to. */
export interface PublishedMany {
  readonly messages: readonly StoredMessage[];
  readonly delivered: number;
}

export interface Core {
  readonly options: HoldpushOptions;
  readonly store: MessageStore;
  readonly registry: Registry;
  /** Who may subscribe and publish: holdpush's rights, and the app when it is asked. */
  readonly gate: Gate;
  /** CORS header pairs of every answer. */
  readonly shared: HeaderPairs;
  /** The store tells this process of a message before any read can see it (the memory store). */
  readonly wakesInStep: boolean;
  /** Reads without a promise, only where no wake-up can come between a read and its hold. */
  readonly immediate: ImmediateReads | undefined;
  readonly closing: () => boolean;
  /** Unsent bytes of subscribers' connections, and the rules that cut them (--max-pending-bytes). */
  readonly pending: PendingBytes;
  /** Subscribers of a channel held in the whole deployment (other processes' as last heard, at most 1 s old). */
  subscribers(channel: string): number;
  publish(channel: string, input: MessageInput): Promise<Published>;
  /** Publishes every message in order, or none. */
  publishMany(inputs: readonly BatchInput[]): Promise<PublishedMany>;
  /** Where publishes with an `Idempotency-Key` are decided. */
  readonly idempotency: IdempotencyGate;
  encoded(message: StoredMessage): EncodedMessage;
  /** A batch subscriber's answer of messages it read (lib/batch-answers.ts). */
  readonly batchAnswer: BatchAnswerOf;
  /** Answers a handler's failure: 503 for an unavailable store, 500 (logged) otherwise. */
  fail(res: ServerResponse, error: unknown): void;
  /** A JSON error with the CORS headers (lib/http/answer.ts). */
  error(res: ServerResponse, status: number, code: ErrorCode, message: string, headers?: HeaderPairs): void;
}

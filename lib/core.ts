import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gate } from './auth/authorize';
import type { EncodedMessage, SharedHeaders } from './broadcast';
import { type ErrorCode, sendError } from './errors';
import type { HoldpushOptions } from './options';
import type { Registry } from './registry';
import type { Rights } from './rights';
import { type MessageInput, type MessageStore, type StoredMessage, StoreUnavailableError } from './store';

/** The result of a publish: the message and how many held responses were written. */
export interface Published {
  readonly message: StoredMessage;
  readonly delivered: number;
}

/** What the route handlers share: one per `createHoldpush`. */
export interface Core {
  readonly options: HoldpushOptions;
  readonly store: MessageStore;
  readonly registry: Registry;
  readonly rights: Rights;
  /** Who may subscribe and publish: holdpush's rights, and the app when it is asked. */
  readonly gate: Gate;
  /** CORS header pairs of every answer. */
  readonly shared: SharedHeaders;
  /** The store tells this process of a message before any read can see it (the memory store). */
  readonly wakesInStep: boolean;
  readonly closing: () => boolean;
  publish(channel: string, input: MessageInput): Promise<Published>;
  encoded(message: StoredMessage): EncodedMessage;
  /** Answers a handler's failure: 503 for an unavailable store, 500 (logged) otherwise. */
  fail(res: ServerResponse, error: unknown): void;
  error(res: ServerResponse, status: number, code: ErrorCode, message: string, headers?: Record<string, string | number>): void;
}

export function failWith(res: ServerResponse, error: unknown, shared: SharedHeaders, log: (error: unknown) => void): void {
  const cors = pairs(shared);
  if (error instanceof StoreUnavailableError) {
    sendError(res, 503, error.code, error.message, { ...cors, 'Retry-After': 1 });
    return;
  }
  log(error);
  sendError(res, 500, 'internal', 'internal error', cors);
}

/** Header pairs as an object (for the rare answers that merge headers). */
export function pairs(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string;
  return out;
}

/** Whether a request's `Accept` names a type (plain substring match on the media range). */
export function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept;
  return accept !== undefined && accept.toLowerCase().includes(type);
}

/**
 * Whether the client is gone (nothing it could be answered on). The request's socket, not
 * the response's: a pipelined request's response gets its socket only when the answers
 * before it are done.
 */
export function gone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || res.req.socket.destroyed;
}

/** The cluster store's IPC protocol between a worker and the primary: the messages as types, and their checks. */
import { type IdempotentAnswer, isIdempotentAnswer } from '../../idempotency/ledger';
import type { WebhookFigures } from '../../webhooks/outbox';
import type { DeploymentTotals, ProcessFigures } from '../figures';
import type { ChannelInfo, StoreStats, StoredMessage } from '../store';

/*
 * The channel is the cluster's IPC with `serialization: 'advanced'` (structured clone), so bodies
 * travel as bytes: a Buffer arrives as a Uint8Array. Every message is an object whose `hp` names
 * its kind. The primary tells every worker of a message before it answers the append that made
 * it, and one IPC channel keeps its order, so a worker's watchers hear it before its append settles.
 */

/** Messages the sequencer's byte budget dropped to make room for the ones they come with: [channel, sequence number]. */
export type Dropped = [channel: string, seq: number][];

/** A stored message as it crosses the channel. */
export interface WireMessage {
  channel: string;
  token: string;
  id: string;
  time: number;
  contentType: string;
  event: string | undefined;
  data: Uint8Array;
}

/** A message appended, as told to the worker that appended it: without its body, which the worker has. */
export type Appended = Omit<WireMessage, 'data'>;

/** What an append answers: the message, and its channel's info just after it. */
export interface AppendedInfo {
  message: Appended;
  info: ChannelInfo;
}

export interface WireRead {
  messages: WireMessage[];
  gap: boolean;
  head: string;
  more: boolean;
}

/** What a worker publishes: the message's body, type and event (and, in a batch, its channel). */
export interface WireInput {
  data: Uint8Array;
  contentType: string;
  event: string | undefined;
}

export interface WireBatchInput extends WireInput {
  channel: string;
}

/** A worker's request, by operation (the store method of the same name; `claim` and `settle` are its ledger's). */
export type Call =
  | { op: 'append'; args: [channel: string, input: WireInput] }
  | { op: 'appendMany'; args: [inputs: WireBatchInput[]] }
  | { op: 'claim'; args: [key: string, fingerprint: string, ttlMs: number] }
  | { op: 'settle'; args: [key: string, ticket: string, answer: IdempotentAnswer | null, ttlMs: number] }
  | { op: 'read'; args: [channels: string[], after: string | null, limit: number] }
  | { op: 'head'; args: [] }
  | { op: 'touch'; args: [channels: string[]] }
  | { op: 'info'; args: [channel: string] }
  | { op: 'delete'; args: [channel: string] };

export type WorkerMessage =
  | ({ hp: 'req'; id: number } & Call)
  /** This worker holds these channels no more. */
  | { hp: 'release'; channels: string[] }
  /** This worker's own figures, for /stats. */
  | { hp: 'report'; figures: ProcessFigures }
  /** This worker's subscriber counts that changed since its last report (0: none any more). */
  | { hp: 'counts'; counts: [channel: string, count: number][] };

export type PrimaryMessage =
  | { hp: 'res'; id: number; ok: true; value: unknown }
  | { hp: 'res'; id: number; ok: false; error: { code: string | undefined; message: string } }
  | { hp: 'msg'; message: WireMessage; dropped?: Dropped }
  /** The messages of one batch, in order: one IPC message however many there are. */
  | { hp: 'msgs'; messages: WireMessage[]; dropped?: Dropped }
  | { hp: 'del'; channel: string }
  /** The sequencer's figures, the sums of every other worker's last report, and the webhook's. */
  | { hp: 'stats'; store: StoreStats; others: DeploymentTotals; webhook: WebhookFigures }
  /** Subscribers of these channels in every other worker, as last reported. */
  | { hp: 'others'; counts: [channel: string, count: number][] };

export function toWire(message: StoredMessage): WireMessage {
  return { channel: message.channel, token: message.token, id: message.id, time: message.time, contentType: message.contentType, event: message.event, data: message.data };
}

/** Bytes off the channel as a Buffer, without a copy. */
export function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function fromWire(wire: WireMessage): StoredMessage {
  return { channel: wire.channel, token: wire.token, id: wire.id, time: wire.time, contentType: wire.contentType, event: wire.event, data: toBuffer(wire.data) };
}

// ---- checks: what comes off the channel is `unknown` until one of these says otherwise ------

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null;
}

export const isString = (value: unknown): value is string => typeof value === 'string';
export const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isNumber = (value: unknown): value is number => typeof value === 'number';
const isOptionalString = (value: unknown): value is string | undefined => value === undefined || isString(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);
const isCounts = (value: unknown): value is [string, number][] =>
  Array.isArray(value) && value.every((pair: unknown) => Array.isArray(pair) && pair.length === 2 && isString(pair[0]) && Number.isSafeInteger(pair[1]) && (pair[1] as number) >= 0);

/** Dropped messages have the shape of counts: a name and a non-negative integer. */
const isDropped = (value: unknown): value is Dropped | undefined => value === undefined || isCounts(value);

function hasNumbers(value: unknown, names: readonly string[]): value is Fields {
  return isObject(value) && names.every((name) => isNumber(value[name]));
}

function isFigures(value: unknown): value is ProcessFigures {
  return hasNumbers(value, ['published', 'delivered']) && hasNumbers(value.held, ['longpoll', 'stream', 'total']);
}

function isTotals(value: unknown): value is DeploymentTotals {
  return isFigures(value) && hasNumbers(value, ['processes']);
}

function isStats(value: unknown): value is StoreStats {
  return hasNumbers(value, ['channels', 'bufferBytes', 'expired', 'evicted']);
}

export function isAppended(value: unknown): value is Appended {
  return isObject(value) && isString(value.channel) && isString(value.token) && isString(value.id) && isNumber(value.time) && isString(value.contentType) && isOptionalString(value.event);
}

function isWireMessage(value: unknown): value is WireMessage {
  return isObject(value) && value.data instanceof Uint8Array && isAppended(value);
}

export function isAppendedInfo(value: unknown): value is AppendedInfo {
  return isObject(value) && isAppended(value.message) && value.info !== null && isChannelInfo(value.info);
}

export function isAppendedList(value: unknown): value is Appended[] {
  return Array.isArray(value) && value.every(isAppended);
}

export function isWireRead(value: unknown): value is WireRead {
  return isObject(value) && Array.isArray(value.messages) && value.messages.every(isWireMessage) && isBoolean(value.gap) && isString(value.head) && isBoolean(value.more);
}

export function isChannelInfo(value: unknown): value is ChannelInfo | null {
  if (value === null) return true;
  return hasNumbers(value, ['messages']) && isOptionalString(value.lastMessageId) && (value.requested === undefined || isNumber(value.requested));
}

function isWireInput(value: unknown): value is WireInput {
  return isObject(value) && value.data instanceof Uint8Array && isString(value.contentType) && isOptionalString(value.event);
}

function isWireBatchInput(value: unknown): value is WireBatchInput {
  return isObject(value) && isString(value.channel) && isWireInput(value);
}

function isCall(value: Fields): boolean {
  const args = value.args;
  if (!Array.isArray(args)) return false;
  switch (value.op) {
    case 'append':
      return args.length === 2 && isString(args[0]) && isWireInput(args[1]);
    case 'appendMany':
      return args.length === 1 && Array.isArray(args[0]) && args[0].every(isWireBatchInput);
    case 'claim':
      return args.length === 3 && isString(args[0]) && isString(args[1]) && isNumber(args[2]);
    case 'settle':
      return args.length === 4 && isString(args[0]) && isString(args[1]) && (args[2] === null || isIdempotentAnswer(args[2])) && isNumber(args[3]);
    case 'read':
      return args.length === 3 && isStrings(args[0]) && (args[1] === null || isString(args[1])) && isNumber(args[2]);
    case 'head':
      return args.length === 0;
    case 'touch':
      return args.length === 1 && isStrings(args[0]);
    case 'info':
    case 'delete':
      return args.length === 1 && isString(args[0]);
    default:
      return false;
  }
}

/** Whether a message off the channel is one a worker sends (checked field by field). */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  if (!isObject(value)) return false;
  switch (value.hp) {
    case 'req':
      return isNumber(value.id) && isCall(value);
    case 'release':
      return isStrings(value.channels);
    case 'report':
      return isFigures(value.figures);
    case 'counts':
      return isCounts(value.counts);
    default:
      return false;
  }
}

/** Whether a message off the channel is one the primary sends (a reply's value is checked by its caller). */
export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  if (!isObject(value)) return false;
  switch (value.hp) {
    case 'res': {
      if (!isNumber(value.id)) return false;
      if (value.ok === true) return true;
      const error = value.error;
      return value.ok === false && isObject(error) && isOptionalString(error.code) && isString(error.message);
    }
    case 'msg':
      return isWireMessage(value.message) && isDropped(value.dropped);
    case 'msgs':
      return Array.isArray(value.messages) && value.messages.every(isWireMessage) && isDropped(value.dropped);
    case 'del':
      return isString(value.channel);
    case 'stats':
      return isStats(value.store) && isTotals(value.others) && hasNumbers(value.webhook, ['deliveries', 'failures', 'dropped', 'queue']);
    case 'others':
      return isCounts(value.counts);
    default:
      return false;
  }
}

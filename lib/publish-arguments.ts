// The checks of an app's publish() arguments: target, data and options.
import { echo } from './errors';
import { EVERY_UID, UID_PREFIX, isValidEventName, isValidName, uidChannel } from './names';
import type { MessageInput } from './stores/store';

/** What node:http accepts in a header value (a publisher's own come through its parser). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A value as an error message shows it: a string cut short, else its type (and a primitive's value). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(echo(value));
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return `${typeof value} ${String(value)}`;
}

function channelOf(target: unknown): string {
  if (typeof target !== 'string') throw new TypeError(`publish target must be a string (a channel name, 'uid:<uid>' or 'uid:*'), got ${shown(target)}`);
  if (target.startsWith(UID_PREFIX)) {
    const uid = target.slice(UID_PREFIX.length);
    if (uid === '*') return EVERY_UID;
    if (!isValidName(uid)) throw new TypeError(`not a uid: ${shown(uid)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
    return uidChannel(uid);
  }
  if (!isValidName(target)) throw new TypeError(`not a channel name: ${shown(target)} (1-128 of A-Z a-z 0-9 _ - . @ ~, or 'uid:<uid>')`);
  return target;
}

function bytesOf(data: unknown, maxMessage: number): Buffer {
  let bytes: Buffer;
  if (typeof data === 'string') bytes = Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  else {
    const hint = typeof data === 'object' && data !== null ? ": JSON.stringify it and pass { contentType: 'application/json' }" : '';
    throw new TypeError(`publish data must be a string or a Uint8Array (a Buffer), got ${shown(data)}${hint}`);
  }
  if (bytes.length > maxMessage) throw new RangeError(`a message may be at most ${maxMessage} bytes (maxMessage), got ${bytes.length}`);
  return bytes;
}

/**
 * Checks the arguments of an app's `publish()` (it is called from JavaScript too, whatever its
 * types say): a TypeError saying what is wrong, a RangeError for a message over `maxMessage`.
 */
export function publishArguments(target: unknown, data: unknown, options: unknown, maxMessage: number): { channel: string; input: MessageInput } {
  const channel = channelOf(target);
  const bytes = bytesOf(data, maxMessage);
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError(`publish options must be an object, got ${shown(options)}`);
  const { contentType = 'text/plain; charset=utf-8', event } = (options ?? {}) as { contentType?: unknown; event?: unknown };
  // Both reach the wire as they are: a header value, and a line of an EventSource event.
  if (typeof contentType !== 'string' || !HEADER_VALUE.test(contentType)) throw new TypeError(`contentType must be a header value, got ${shown(contentType)}`);
  if (event !== undefined && (typeof event !== 'string' || !isValidEventName(event))) throw new TypeError(`event must be one line of printable ASCII, at most 128 characters, got ${shown(event)}`);
  return { channel, input: { data: bytes, contentType, event } };
}

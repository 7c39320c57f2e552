// Idempotency keys, and the fingerprints that decide whether two publishes are the same one.
import { createHash } from 'node:crypto';
import type { MessageInput } from '../stores/store';

/** 1-255 visible ASCII characters (no spaces or controls). */
const KEY = /^[\x21-\x7e]{1,255}$/;

export const KEY_RULE = '1-255 visible ASCII characters, no spaces';

export function isValidIdempotencyKey(key: string): boolean {
  return KEY.test(key);
}

/**
 * What a publish does: its route (the HTTP route or the embedding call, whose answers differ)
 * and its messages in order. `channel` is the store's channel name.
 */
export interface PublishRequest {
  readonly route: 'pub' | 'batch' | 'send' | 'publish' | 'publishMany';
  readonly messages: readonly (MessageInput & { readonly channel: string })[];
}

function field(text: string): string {
  return `${Buffer.byteLength(text)}:${text}\n`;
}

/**
 * A digest of everything that makes a publish what it is: route, and each message's channel,
 * content type, event name and bytes. Lengths go first, so no two requests run together alike.
 */
export function fingerprint(request: PublishRequest): string {
  const hash = createHash('sha256');
  hash.update(`${request.route}\n${request.messages.length}\n`);
  for (const message of request.messages) {
    const event = message.event === undefined ? '-' : field(message.event);
    hash.update(`${field(message.channel)}${field(message.contentType)}${event}${message.data.length}\n`);
    hash.update(message.data);
  }
  return hash.digest('base64url');
}

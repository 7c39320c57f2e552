// What clients name: channels, uids and positions (docs/protocol.md, "Channels, messages and ids", "Positions and gaps").

const NAME = /^[A-Za-z0-9_\-.@~]{1,128}$/;
const TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;

/** Most channels one subscription may span. */
export const MAX_CHANNELS_PER_SUBSCRIPTION = 16;

/** An EventSource event name (`X-EventSource-Event`): one line of printable text. */
const EVENT_NAME = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

export function isValidEventName(name: string): boolean {
  return EVENT_NAME.test(name);
}

export function isValidName(name: string): boolean {
  return NAME.test(name) && name !== '.' && name !== '..';
}

/** What starts the internal channel of a uid. User names cannot hold `:`, so no clash. */
export const UID_PREFIX = 'uid:';

/** Internal channel of one uid of the original demo. */
export function uidChannel(uid: string): string {
  return `${UID_PREFIX}${uid}`;
}

/** Internal channel that every uid's subscription also reads: messages sent to no uid. */
export const EVERY_UID = uidChannel('*');

export type ParsedPosition = { ok: true; token: string } | { ok: false };

/**
 * Reads a client's position: `<digits>:<T>` or a bare `T`, optionally in double quotes.
 * The time part is ignored; only the token decides.
 */
export function parsePosition(text: string): ParsedPosition {
  let value = text.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  const colon = value.indexOf(':');
  if (colon >= 0) {
    const seconds = value.slice(0, colon);
    if (!/^\d{1,20}$/.test(seconds)) return { ok: false };
    value = value.slice(colon + 1);
  }
  return TOKEN.test(value) ? { ok: true, token: value } : { ok: false };
}

/** Splits `/sub/a,b` channel lists; null when any name is invalid or there are too many. */
export function parseChannelList(text: string): string[] | null {
  if (!text.includes(',')) return isValidName(text) ? [text] : null;
  const names = text.split(',');
  if (names.length > MAX_CHANNELS_PER_SUBSCRIPTION) return null;
  for (const name of names) if (!isValidName(name)) return null;
  return [...new Set(names)];
}

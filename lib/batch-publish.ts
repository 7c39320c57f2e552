// A batch publish's body (docs/publishing.md): read and checked whole before anything is published.
import { type ErrorCode, echo } from './errors';
import type { MessageLimit } from './message-limit';
import { isValidEventName, isValidName } from './names';
import { HEADER_VALUE } from './publish-arguments';
import type { BatchInput } from './stores/store';

/** Messages one batch may hold. */
export const MAX_BATCH = 1000;

const DEFAULT_TYPE = 'text/plain; charset=utf-8';

/** The largest batch body: room for a full batch of typical messages, or 16 of the largest. */
export function batchBodyLimit(maxMessage: number): number {
  return Math.max(1024 * 1024, 16 * maxMessage);
}

export type BatchParse =
  | { readonly ok: true; readonly inputs: BatchInput[] }
  /** `index`: the entry at fault, when one is. */
  | { readonly ok: false; readonly status: 400 | 413; readonly code: ErrorCode; readonly message: string; readonly index?: number };

function bad(message: string): BatchParse {
  return { ok: false, status: 400, code: 'bad_body', message };
}

/** Standard base64 that decodes exactly: padded, nothing outside the alphabet, no stray bits. */
function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** One entry, or why it is bad. */
function entryOf(entry: unknown, limit: MessageLimit): BatchInput | string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'each message must be an object {"channel", "data"}';
  const { channel, data, contentType, event, encoding } = entry as Record<string, unknown>;
  if (typeof channel !== 'string') return '"channel" is missing or not a string';
  if (!isValidName(channel)) return `not a channel name: ${echo(channel)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`;
  if (typeof data !== 'string') return '"data" is missing or not a string (send bytes as base64 with "encoding": "base64")';
  let bytes: Buffer | undefined;
  if (encoding === undefined || encoding === null) bytes = Buffer.from(data, 'utf8');
  else if (encoding === 'base64') {
    bytes = decodeBase64(data);
    if (bytes === undefined) return '"data" is not base64 that decodes exactly (padded, standard alphabet)';
  } else return `unknown "encoding": ${typeof encoding === 'string' ? JSON.stringify(echo(encoding)) : typeof encoding} (only "base64")`;
  if (bytes.length > limit.bytes) return `a message may be at most ${limit.bytes} bytes (${limit.flag}), this one is ${bytes.length}`;
  let type = DEFAULT_TYPE;
  if (contentType !== undefined && contentType !== null && contentType !== '') {
    if (typeof contentType !== 'string' || !HEADER_VALUE.test(contentType)) return '"contentType" must be a header value (a string without line breaks)';
    type = contentType;
  }
  if (event !== undefined && event !== null && (typeof event !== 'string' || !isValidEventName(event))) return '"event" must be one line of printable ASCII, at most 128 characters';
  return { channel, data: bytes, contentType: type, event: typeof event === 'string' ? event : undefined };
}

/** Checks a parsed batch document: every entry, before anything is published. */
export function parseBatch(document: unknown, limit: MessageLimit): BatchParse {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return bad('a batch is a JSON object {"messages": [...]}');
  const { messages } = document as Record<string, unknown>;
  if (!Array.isArray(messages)) return bad('"messages" is missing or not an array');
  if (messages.length === 0) return bad(`"messages" must hold 1 to ${MAX_BATCH} messages, it is empty`);
  if (messages.length > MAX_BATCH) return { ok: false, status: 413, code: 'too_many_messages', message: `a batch may hold at most ${MAX_BATCH} messages, this one has ${messages.length}` };
  const inputs: BatchInput[] = [];
  for (let index = 0; index < messages.length; index++) {
    const entry = entryOf(messages[index], limit);
    if (typeof entry === 'string') return { ok: false, status: 400, code: 'bad_message', message: `messages[${index}]: ${entry}`, index };
    inputs.push(entry);
  }
  return { ok: true, inputs };
}

/** A batch body as sent: UTF-8 JSON. */
export function parseBatchBody(body: Buffer, limit: MessageLimit): BatchParse {
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return bad('the body is not JSON');
  }
  return parseBatch(document, limit);
}

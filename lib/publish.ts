// The publisher face (docs/protocol.md, "Publishing"): `/pub/<channel>` publishes, tells and deletes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from './core';
import { echo } from './errors';
import { firstAccepted } from './http/accept';
import type { HeaderPairs } from './http/answer';
import { type BodyResult, readBody } from './http/body';
import { answerOnce, readIdempotencyKey, writeAnswer } from './idempotency/http';
import type { IdempotentAnswer } from './idempotency/ledger';
import { messageLimit } from './message-limit';
import { isValidEventName, isValidName } from './names';
import type { ChannelInfo } from './stores/store';

export function tooLargeText(core: Core): string {
  const limit = messageLimit(core.options.maxMessage, core.store);
  return `a message may be at most ${limit.bytes} bytes (${limit.flag})`;
}

function tooLarge(core: Core, res: ServerResponse): void {
  core.error(res, 413, 'payload_too_large', tooLargeText(core), ['Connection', 'close']);
}

/** Why a body the app's parser read cannot be published: the words of the 400 `body_consumed`. */
export function consumedText(read: BodyResult): string {
  const what = read.kind === 'parsed' ? 'parsed it into an object, and /pub publishes the bytes as they were sent' : 'left nothing on req.body to publish';
  return `a body parser of the app read this request before holdpush and ${what}: mount holdpush before the body parser`;
}

function sendInfo(core: Core, req: IncomingMessage, res: ServerResponse, status: number, channel: string, info: ChannelInfo | null, subscribers = core.subscribers(channel)): void {
  writeAnswer(core, res, infoAnswer(req, status, info, subscribers), false);
}

/** Channel info in Nchan's text layout (CRLF), or JSON when the client asks for it. */
function infoAnswer(req: IncomingMessage, status: number, info: ChannelInfo | null, subscribers: number): IdempotentAnswer {
  const messages = info?.messages ?? 0;
  const requested = info?.requested === undefined ? -1 : Math.max(0, Math.floor((Date.now() - info.requested) / 1000));
  const last = info?.lastMessageId ?? '';
  const type = infoType(req);
  const body =
    type === PLAIN_TYPE
      ? `queued messages: ${messages}\r\nlast requested: ${requested} sec. ago\r\nactive subscribers: ${subscribers}\r\nlast message id: ${last}\r\n`
      : JSON.stringify({ messages, requested, subscribers, last_message_id: last });
  return { status, headers: type, body };
}

const PLAIN_TYPE: HeaderPairs = ['Content-Type', 'text/plain; charset=utf-8'];
const JSON_TYPES: HeaderPairs = ['Content-Type', 'application/json; charset=utf-8'];
const TEXT_JSON_TYPES: HeaderPairs = ['Content-Type', 'text/json; charset=utf-8'];

const INFO_TYPES = ['application/json', 'text/json'] as const;

/** The info's layout by the request's `Accept` (a publish answer is on the hot path: constant pairs). */
function infoType(req: IncomingMessage): HeaderPairs {
  const type = firstAccepted(req, INFO_TYPES);
  return type === 'application/json' ? JSON_TYPES : type === 'text/json' ? TEXT_JSON_TYPES : PLAIN_TYPE;
}

/** `/pub/<channel>`: publish (POST, PUT), info (GET), delete (DELETE). */
export async function handlePub(core: Core, req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
  if (!isValidName(channel)) {
    core.error(res, 400, 'bad_channel', `not a channel name: ${echo(channel)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
    return;
  }
  // Decided without a promise unless the app is asked: no turn of the event loop waited for then.
  const verdict = core.gate.publish(req, channel, [channel]);
  const refusal = verdict instanceof Promise ? await verdict : verdict;
  if (refusal !== null) {
    core.error(res, refusal.status, refusal.code, refusal.message, refusal.headers);
    return;
  }
  const { store } = core;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const info = await store.info(channel);
    if (info === null && core.subscribers(channel) === 0) core.error(res, 404, 'not_found', `no channel ${channel}`);
    else sendInfo(core, req, res, 200, channel, info);
    return;
  }
  if (req.method === 'DELETE') {
    const info = await store.info(channel);
    const held = core.subscribers(channel);
    if (!(await store.delete(channel)) && held === 0) {
      core.error(res, 404, 'not_found', `no channel ${channel}`);
      return;
    }
    sendInfo(core, req, res, 200, channel, info, held);
    return;
  }
  const key = readIdempotencyKey(req);
  if (!key.ok) {
    core.error(res, 400, 'bad_idempotency_key', key.message);
    return;
  }
  const event = req.headers['x-eventsource-event'];
  if (event !== undefined && (typeof event !== 'string' || !isValidEventName(event))) {
    core.error(res, 400, 'bad_request', 'X-EventSource-Event must be one line of printable ASCII, at most 128 characters');
    return;
  }
  const read = await readBody(req, messageLimit(core.options.maxMessage, core.store).bytes);
  if (read.kind !== 'bytes') {
    if (read.kind === 'too_large') tooLarge(core, res);
    else if (read.kind !== 'gone') core.error(res, 400, 'body_consumed', consumedText(read));
    return;
  }
  const input = { data: read.body, contentType: req.headers['content-type'] || 'text/plain; charset=utf-8', event };
  await answerOnce(core, res, key.key, () => ({ route: 'pub', messages: [{ channel, ...input }] }), async () => {
    const { delivered, info } = await core.publish(channel, input);
    // A store that told the info with the append is not asked again (one Redis script per publish).
    return infoAnswer(req, delivered > 0 ? 201 : 202, info ?? (await store.info(channel)), core.subscribers(channel));
  });
}

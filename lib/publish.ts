import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BodyResult, readBody } from './body';
import { type Core, accepts, pairs } from './core';
import { type ErrorCode, echo } from './errors';
import { type FormResult, formFromFields, parseSendForm } from './form';
import { answerOnce, jsonAnswer, readIdempotencyKey, writeAnswer } from './idempotency/http';
import type { IdempotentAnswer } from './idempotency/ledger';
import { EVERY_UID, isValidEventName, isValidName, uidChannel } from './names';
import { refusalHeaders } from './rights';
import type { Query } from './router';
import type { ChannelInfo } from './stores/store';

/** Room for multipart framing and the other fields around a message of the largest size. */
const FORM_OVERHEAD = 16 * 1024;

function tooLargeText(core: Core): string {
  return `a message may be at most ${core.options.maxMessage} bytes (--max-message)`;
}

function tooLarge(core: Core, res: ServerResponse): void {
  core.error(res, 413, 'payload_too_large', tooLargeText(core), { Connection: 'close' });
}

/** Why a body the app's parser read cannot be published: the words of the 400 `body_consumed`. */
function consumedText(read: BodyResult): string {
  const what = read.kind === 'parsed' ? 'parsed it into an object, and /pub publishes the bytes as they were sent' : 'left nothing on req.body to publish';
  return `a body parser of the app read this request before holdpush and ${what}: mount holdpush before the body parser`;
}

/** Channel info in Nchan's text layout (CRLF), or JSON when the client asks for it. */
function sendInfo(core: Core, req: IncomingMessage, res: ServerResponse, status: number, channel: string, info: ChannelInfo | null, subscribers = core.registry.holders(channel)): void {
  writeAnswer(core, res, infoAnswer(req, status, info, subscribers), false);
}

function infoAnswer(req: IncomingMessage, status: number, info: ChannelInfo | null, subscribers: number): IdempotentAnswer {
  const messages = info?.messages ?? 0;
  const requested = info?.requested === undefined ? -1 : Math.max(0, Math.floor((Date.now() - info.requested) / 1000));
  const last = info?.lastMessageId ?? '';
  let type: string;
  let body: string;
  const json = accepts(req, 'application/json') ? 'application/json' : accepts(req, 'text/json') ? 'text/json' : undefined;
  if (json !== undefined) {
    type = `${json}; charset=utf-8`;
    body = JSON.stringify({ messages, requested, subscribers, last_message_id: last });
  } else {
    type = 'text/plain; charset=utf-8';
    body = `queued messages: ${messages}\r\nlast requested: ${requested} sec. ago\r\nactive subscribers: ${subscribers}\r\nlast message id: ${last}\r\n`;
  }
  return { status, headers: ['Content-Type', type], body };
}

/** `/pub/<channel>`: publish (POST, PUT), info (GET), delete (DELETE). */
export async function handlePub(core: Core, req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
  if (!isValidName(channel)) {
    core.error(res, 400, 'bad_channel', `not a channel name: ${echo(channel)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
    return;
  }
  const refusal = core.rights.publish(req, channel);
  if (refusal !== null) {
    core.error(res, refusal.status, refusal.code, refusal.message, refusalHeaders(refusal));
    return;
  }
  const { store } = core;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const info = await store.info(channel);
    if (info === null && core.registry.holders(channel) === 0) core.error(res, 404, 'not_found', `no channel ${channel}`);
    else sendInfo(core, req, res, 200, channel, info);
    return;
  }
  if (req.method === 'DELETE') {
    const info = await store.info(channel);
    const held = core.registry.holders(channel);
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
  const read = await readBody(req, core.options.maxMessage);
  if (read.kind !== 'bytes') {
    if (read.kind === 'too_large') tooLarge(core, res);
    else if (read.kind !== 'gone') core.error(res, 400, 'body_consumed', consumedText(read));
    return;
  }
  const input = { data: read.body, contentType: req.headers['content-type'] || 'text/plain; charset=utf-8', event };
  await answerOnce(core, res, key.key, () => ({ route: 'pub', messages: [{ channel, ...input }] }), async () => {
    const { delivered } = await core.publish(channel, input);
    return infoAnswer(req, delivered > 0 ? 201 : 202, await store.info(channel), core.registry.holders(channel));
  });
}

/** `POST /send`: the original demo's form, and its script-friendly twins. */
export async function handleSend(core: Core, req: IncomingMessage, res: ServerResponse, query: Query): Promise<void> {
  // A person who posted the form sees what went wrong on the send page (send.js shows
  // `error` and `message`), not a JSON body; scripts get the JSON error with its status.
  let uid = query.get('uid') ?? '';
  const refuse = (status: number, code: ErrorCode, message: string, headers: Record<string, string | number> = {}): void => {
    if (!prefersHtml(req)) {
      core.error(res, status, code, message, headers);
      return;
    }
    const location = `${core.options.prefix}/send?error=${encodeURIComponent(code)}&message=${encodeURIComponent(message)}&uid=${encodeURIComponent(isValidName(uid) ? uid : '')}`;
    res.writeHead(303, { ...pairs(core.shared), Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store', ...(status === 413 ? { Connection: 'close' } : {}) });
    res.end();
  };
  const key = readIdempotencyKey(req);
  if (!key.ok) {
    refuse(400, 'bad_idempotency_key', key.message);
    return;
  }
  const read = await readBody(req, core.options.maxMessage + FORM_OVERHEAD);
  let parsed: FormResult;
  switch (read.kind) {
    case 'gone':
      return;
    case 'too_large':
      refuse(413, 'payload_too_large', tooLargeText(core), { Connection: 'close' });
      return;
    case 'consumed':
      refuse(400, 'body_consumed', consumedText(read));
      return;
    case 'parsed':
      parsed = formFromFields(read.value);
      break;
    case 'bytes':
      parsed = await parseSendForm(req.headers['content-type'], read.body);
  }
  if (!parsed.ok) {
    refuse(parsed.status, parsed.status === 415 ? 'unsupported_media_type' : 'bad_body', parsed.message);
    return;
  }
  const { message, token } = parsed.form;
  uid = parsed.form.uid || uid;
  const refusal = core.rights.publish(req, null, token);
  if (refusal !== null) {
    refuse(refusal.status, refusal.code, refusal.message, refusalHeaders(refusal));
    return;
  }
  if (message === undefined || message === '') {
    refuse(400, 'missing_message', 'the "message" field is missing or empty');
    return;
  }
  const data = Buffer.from(message, 'utf8');
  if (data.length > core.options.maxMessage) {
    refuse(413, 'payload_too_large', tooLargeText(core), { Connection: 'close' });
    return;
  }
  if (uid !== '' && !isValidName(uid)) {
    refuse(400, 'bad_uid', `not a uid: ${echo(uid)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
    return;
  }
  const channel = uid === '' ? EVERY_UID : uidChannel(uid);
  const input = { data, contentType: 'text/plain; charset=utf-8' };
  await answerOnce(core, res, key.key, () => ({ route: 'send', messages: [{ channel, ...input }] }), async () => {
    const published = await core.publish(channel, input);
    const id = published.message.id;
    if (!prefersHtml(req)) return jsonAnswer(200, { id, delivered: published.delivered });
    const location = `${core.options.prefix}/send?sent=${encodeURIComponent(id)}&delivered=${published.delivered}&uid=${encodeURIComponent(uid)}`;
    return { status: 303, headers: ['Location', location], body: '' };
  });
}

/** A browser's form post: its `Accept` puts HTML before JSON (or names no JSON at all). */
function prefersHtml(req: IncomingMessage): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const html = accept.indexOf('text/html');
  if (html < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || html < json;
}

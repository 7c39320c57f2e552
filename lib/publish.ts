import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BodyResult, readBody } from './http/body';
import { JSON_TYPE } from './broadcast';
import { type Core, accepts, pairs } from './core';
import { type ErrorCode, echo } from './errors';
import { type FormResult, formFromFields, parseSendForm } from './http/form';
import { EVERY_UID, isValidEventName, isValidName, uidChannel } from './names';
import { refusalHeaders } from './rights';
import type { Query } from './http/router';
import type { ChannelInfo } from './store';
import { Prebuilt } from './http/wire';

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
  new Prebuilt(status, ['Content-Type', type, 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store', ...core.shared], body).writeTo(res, core.options.fastWire);
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
  const contentType = req.headers['content-type'] || 'text/plain; charset=utf-8';
  const { delivered } = await core.publish(channel, { data: read.body, contentType, event });
  sendInfo(core, req, res, delivered > 0 ? 201 : 202, channel, await store.info(channel));
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
  const published = await core.publish(uid === '' ? EVERY_UID : uidChannel(uid), { data, contentType: 'text/plain; charset=utf-8' });
  const id = published.message.id;
  if (prefersHtml(req)) {
    const location = `${core.options.prefix}/send?sent=${encodeURIComponent(id)}&delivered=${published.delivered}&uid=${encodeURIComponent(uid)}`;
    res.writeHead(303, { ...pairs(core.shared), Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const body = JSON.stringify({ id, delivered: published.delivered });
  res.writeHead(200, ['Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(body)), 'Cache-Control', 'no-store', ...core.shared]);
  res.end(body);
}

/** A browser's form post: its `Accept` puts HTML before JSON (or names no JSON at all). */
function prefersHtml(req: IncomingMessage): boolean {
  const accept = (req.headers.accept ?? '').toLowerCase();
  const html = accept.indexOf('text/html');
  if (html < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || html < json;
}

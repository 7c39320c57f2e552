// The send face (docs/protocol.md, "The demo face"): `POST /send`, the original demo's form and its script-friendly twins.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from './core';
import { type ErrorCode, echo } from './errors';
import { prefersHtml } from './http/accept';
import { type HeaderPairs, JSON_TYPE, answer } from './http/answer';
import { readBody } from './http/body';
import { type FormResult, formFromFields, parseSendForm } from './http/form';
import type { Query } from './http/router';
import { EVERY_UID, isValidName, uidChannel } from './names';
import { consumedText, tooLargeText } from './publish';

/** Room for multipart framing and the other fields around a message of the largest size. */
const FORM_OVERHEAD = 16 * 1024;

/** A browser goes back to the send page, which shows what happened. */
function seeOther(core: Core, res: ServerResponse, location: string, extra: HeaderPairs = []): void {
  answer(res, 303, [...core.shared, 'Location', location, 'Cache-Control', 'no-store', ...extra], '');
}

/** `POST /send`: the original demo's form, and its script-friendly twins. */
export async function handleSend(core: Core, req: IncomingMessage, res: ServerResponse, query: Query): Promise<void> {
  // A person who posted the form sees what went wrong on the send page (send.js shows
  // `error` and `message`), not a JSON body; scripts get the JSON error with its status.
  let uid = query.get('uid') ?? '';
  const refuse = (status: number, code: ErrorCode, message: string, headers: HeaderPairs = []): void => {
    if (!prefersHtml(req)) {
      core.error(res, status, code, message, headers);
      return;
    }
    const location = `${core.options.prefix}/send?error=${encodeURIComponent(code)}&message=${encodeURIComponent(message)}&uid=${encodeURIComponent(isValidName(uid) ? uid : '')}`;
    seeOther(core, res, location, status === 413 ? ['Connection', 'close'] : []);
  };
  const read = await readBody(req, core.options.maxMessage + FORM_OVERHEAD);
  let parsed: FormResult;
  switch (read.kind) {
    case 'gone':
      return;
    case 'too_large':
      refuse(413, 'payload_too_large', tooLargeText(core), ['Connection', 'close']);
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
  const refusal = await core.gate.publish(req, null, [uid === '' ? EVERY_UID : uidChannel(uid)], token);
  if (refusal !== null) {
    refuse(refusal.status, refusal.code, refusal.message, refusal.headers);
    return;
  }
  if (message === undefined || message === '') {
    refuse(400, 'missing_message', 'the "message" field is missing or empty');
    return;
  }
  const data = Buffer.from(message, 'utf8');
  if (data.length > core.options.maxMessage) {
    refuse(413, 'payload_too_large', tooLargeText(core), ['Connection', 'close']);
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
    seeOther(core, res, location);
    return;
  }
  const body = JSON.stringify({ id, delivered: published.delivered });
  answer(res, 200, ['Content-Type', JSON_TYPE, 'Cache-Control', 'no-store', ...core.shared], body);
}

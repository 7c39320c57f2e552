// `Idempotency-Key` on the publish routes: reading the header, and answering once per key.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from '../core';
import { echo } from '../errors';
import { JSON_TYPE } from '../http/answer';
import { Prebuilt } from '../http/wire';
import { KEY_RULE, type PublishRequest, fingerprint, isValidIdempotencyKey } from './key';
import type { IdempotentAnswer } from './ledger';

export type KeyRead = { readonly ok: true; readonly key: string | undefined } | { readonly ok: false; readonly message: string };

const NO_KEY: KeyRead = { ok: true, key: undefined };

/** The request's `Idempotency-Key`: undefined when it sent none. */
export function readIdempotencyKey(req: IncomingMessage): KeyRead {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return NO_KEY;
  // Sent twice, node:http joins the two with ", ": not a key either.
  if (typeof key !== 'string' || !isValidIdempotencyKey(key)) return { ok: false, message: `Idempotency-Key must be ${KEY_RULE}` };
  return { ok: true, key };
}

export function jsonAnswer(status: number, value: unknown): IdempotentAnswer {
  return { status, headers: ['Content-Type', JSON_TYPE], body: JSON.stringify(value) };
}

/** Writes an answer; a replayed one says so (`Idempotent-Replayed: true`). */
export function writeAnswer(core: Core, res: ServerResponse, answer: IdempotentAnswer, replayed: boolean): void {
  const length = Buffer.byteLength(answer.body);
  const headers = [...answer.headers, 'Content-Length', String(length), 'Cache-Control', 'no-store', ...core.shared];
  if (replayed) headers.push('Idempotent-Replayed', 'true');
  // As many bytes as characters: ASCII, its own bytes, not measured or encoded again.
  new Prebuilt(answer.status, headers, answer.body, length === answer.body.length).writeTo(res, core.options.fastWire);
}

/**
 * Publishes and answers, once per key when the request carried one: a request with a key
 * already answered gets that answer again, one with a key used for another request `409`.
 * `request` says what is published (for the fingerprint); `publish` does it and returns the answer.
 */
export async function answerOnce(core: Core, res: ServerResponse, key: string | undefined, request: () => PublishRequest, publish: () => Promise<IdempotentAnswer>): Promise<void> {
  if (key === undefined) {
    writeAnswer(core, res, await publish(), false);
    return;
  }
  const result = await core.idempotency.run(key, fingerprint(request()), publish);
  if (result.kind === 'conflict') {
    core.error(res, 409, 'idempotency_conflict', `the Idempotency-Key ${JSON.stringify(echo(key))} was used for a different request (route, channels or body) within the last ${core.options.idempotencyTtl} s`);
    return;
  }
  writeAnswer(core, res, result.answer, result.replayed);
}

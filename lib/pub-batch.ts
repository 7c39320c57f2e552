// The batch face (docs/publishing.md): `POST /pub` publishes many messages to any channels, all or none.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Verdict } from './auth/authorize';
import { type BatchParse, batchBodyLimit, parseBatch, parseBatchBody } from './batch-publish';
import type { Core } from './core';
import { JSON_TYPE, answer } from './http/answer';
import { mediaType, readBody } from './http/body';
import { answerOnce, jsonAnswer, readIdempotencyKey } from './idempotency/http';
import { messageLimit } from './message-limit';
import type { BatchInput } from './stores/store';

/** A refused batch; one bad entry's error names it by `index` too. */
function refuseBatch(core: Core, res: ServerResponse, failure: Extract<BatchParse, { ok: false }>): void {
  if (failure.index === undefined) {
    core.error(res, failure.status, failure.code, failure.message);
    return;
  }
  const body = JSON.stringify({ error: failure.code, message: failure.message, index: failure.index });
  answer(res, failure.status, [...core.shared, 'Content-Type', JSON_TYPE, 'Cache-Control', 'no-store'], body);
}

/**
 * The rights of `/pub/<channel>` for every channel of a batch. holdpush's own rights are asked
 * per channel (a subscriber JWT grants channels one by one); an app that decides publishes is
 * asked once, naming them all.
 */
async function refused(core: Core, req: IncomingMessage, inputs: readonly BatchInput[]): Promise<Verdict> {
  const channels = [...new Set(inputs.map((input) => input.channel))];
  const { authUrl, authorize } = core.options;
  if (authUrl !== undefined || authorize !== undefined) return core.gate.publish(req, null, channels);
  for (const channel of channels) {
    const denial = await core.gate.publish(req, channel, [channel]);
    if (denial !== null) return denial;
  }
  return null;
}

export async function handleBatch(core: Core, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const key = readIdempotencyKey(req);
  if (!key.ok) {
    core.error(res, 400, 'bad_idempotency_key', key.message);
    return;
  }
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    core.error(res, 415, 'unsupported_media_type', 'a batch is Content-Type: application/json, {"messages": [...]}');
    return;
  }
  const { maxMessage } = core.options;
  const limit = batchBodyLimit(maxMessage);
  const read = await readBody(req, limit);
  let parsed: BatchParse;
  switch (read.kind) {
    case 'gone':
      return;
    case 'too_large':
      core.error(res, 413, 'payload_too_large', `a batch body may be at most ${limit} bytes (the larger of 1 MiB and 16 x --max-message)`, ['Connection', 'close']);
      return;
    case 'consumed':
      core.error(res, 400, 'body_consumed', 'a body parser of the app read this request before holdpush and left nothing on req.body: mount holdpush before the body parser');
      return;
    case 'parsed':
      // The app's JSON parser did the reading: its object is the batch.
      parsed = parseBatch(read.value, messageLimit(maxMessage, core.store));
      break;
    case 'bytes':
      parsed = parseBatchBody(read.body, messageLimit(maxMessage, core.store));
  }
  if (!parsed.ok) {
    refuseBatch(core, res, parsed);
    return;
  }
  const { inputs } = parsed;
  const denial = await refused(core, req, inputs);
  if (denial !== null) {
    core.error(res, denial.status, denial.code, denial.message, denial.headers);
    return;
  }
  await answerOnce(core, res, key.key, () => ({ route: 'batch', messages: inputs }), async () => {
    const { messages, delivered } = await core.publishMany(inputs);
    return jsonAnswer(200, { ids: messages.map((message) => message.id), delivered });
  });
}

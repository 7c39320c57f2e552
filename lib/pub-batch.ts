/** `POST /pub` (no channel): a batch of messages to any channels, published in order, all or none. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BatchParse, batchBodyLimit, parseBatch, parseBatchBody } from './batch-publish';
import { JSON_TYPE } from './broadcast';
import { mediaType, readBody } from './body';
import { type Core, pairs } from './core';
import { answerOnce, jsonAnswer, readIdempotencyKey } from './idempotency/http';
import { refusalHeaders } from './rights';

/** A refused batch; one bad entry's error names it by `index` too. */
function refuseBatch(core: Core, res: ServerResponse, failure: Extract<BatchParse, { ok: false }>): void {
  if (failure.index === undefined) {
    core.error(res, failure.status, failure.code, failure.message);
    return;
  }
  const body = JSON.stringify({ error: failure.code, message: failure.message, index: failure.index });
  res.writeHead(failure.status, { ...pairs(core.shared), 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
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
      core.error(res, 413, 'payload_too_large', `a batch body may be at most ${limit} bytes (the larger of 1 MiB and 16 x --max-message)`, { Connection: 'close' });
      return;
    case 'consumed':
      core.error(res, 400, 'body_consumed', 'a body parser of the app read this request before holdpush and left nothing on req.body: mount holdpush before the body parser');
      return;
    case 'parsed':
      // The app's JSON parser did the reading: its object is the batch.
      parsed = parseBatch(read.value, maxMessage);
      break;
    case 'bytes':
      parsed = parseBatchBody(read.body, maxMessage);
  }
  if (!parsed.ok) {
    refuseBatch(core, res, parsed);
    return;
  }
  const { inputs } = parsed;
  // The rights of /pub/<channel>, for every channel of the batch.
  for (const channel of new Set(inputs.map((input) => input.channel))) {
    const refusal = core.rights.publish(req, channel);
    if (refusal !== null) {
      core.error(res, refusal.status, refusal.code, refusal.message, refusalHeaders(refusal));
      return;
    }
  }
  await answerOnce(core, res, key.key, () => ({ route: 'batch', messages: inputs }), async () => {
    const { messages, delivered } = await core.publishMany(inputs);
    return jsonAnswer(200, { ids: messages.map((message) => message.id), delivered });
  });
}

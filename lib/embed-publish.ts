// An app's publish() and publishMany(): arguments checked, and idempotencyKey decided as the HTTP header is.
import type { BatchMessage, PublishManyOptions, PublishManyResult, PublishOptions, PublishResult } from './api';
import { MAX_BATCH } from './batch-publish';
import type { Core } from './core';
import { echo } from './errors';
import { jsonAnswer } from './idempotency/http';
import { KEY_RULE, type PublishRequest, fingerprint, isValidIdempotencyKey } from './idempotency/key';
import type { IdempotentAnswer } from './idempotency/ledger';
import { type MessageLimit, messageLimit } from './message-limit';
import { publishArguments } from './publish-arguments';
import type { BatchInput } from './stores/store';

/** An `idempotencyKey` that was used, within `idempotencyTtl`, for a publish with other arguments. */
export class IdempotencyConflictError extends Error {
  readonly code = 'idempotency_conflict';

  constructor(key: string) {
    super(`the idempotencyKey ${JSON.stringify(echo(key))} was used for a different publish within idempotencyTtl`);
    this.name = 'IdempotencyConflictError';
  }
}

function idempotencyKeyOf(options: unknown): string | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const { idempotencyKey } = options as { idempotencyKey?: unknown };
  if (idempotencyKey === undefined) return undefined;
  if (typeof idempotencyKey !== 'string' || !isValidIdempotencyKey(idempotencyKey)) {
    throw new TypeError(`idempotencyKey must be ${KEY_RULE}, got ${typeof idempotencyKey === 'string' ? JSON.stringify(echo(idempotencyKey)) : typeof idempotencyKey}`);
  }
  return idempotencyKey;
}

function batchOf(messages: unknown, limit: MessageLimit): BatchInput[] {
  if (!Array.isArray(messages)) throw new TypeError('publishMany takes an array of messages { channel, data, contentType?, event? }');
  if (messages.length === 0) throw new TypeError(`publishMany needs 1 to ${MAX_BATCH} messages, got none`);
  if (messages.length > MAX_BATCH) throw new RangeError(`publishMany takes at most ${MAX_BATCH} messages, got ${messages.length}`);
  return messages.map((message: unknown, index) => {
    if (typeof message !== 'object' || message === null) throw new TypeError(`messages[${index}] must be an object { channel, data }`);
    const { channel, data, contentType, event } = message as Record<string, unknown>;
    try {
      const checked = publishArguments(channel, data, { contentType, event }, limit);
      return { channel: checked.channel, ...checked.input };
    } catch (error) {
      if (error instanceof Error) error.message = `messages[${index}]: ${error.message}`;
      throw error;
    }
  });
}

export interface EmbeddedPublish {
  publish(target: string, data: string | Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  publishMany(messages: readonly BatchMessage[], options?: PublishManyOptions): Promise<PublishManyResult>;
}

export function createEmbeddedPublish(core: Core): EmbeddedPublish {
  /** Runs a publish, once per key when one is given; resolves with its answer's body and whether it was replayed. */
  async function once(key: string | undefined, request: PublishRequest, publish: () => Promise<IdempotentAnswer>): Promise<{ body: unknown; replayed: boolean }> {
    if (key === undefined) return { body: JSON.parse((await publish()).body), replayed: false };
    const result = await core.idempotency.run(key, fingerprint(request), publish);
    if (result.kind === 'conflict') throw new IdempotencyConflictError(key);
    return { body: JSON.parse(result.answer.body), replayed: result.replayed };
  }

  return {
    async publish(target, data, options) {
      const { channel, input } = publishArguments(target, data, options, messageLimit(core.options.maxMessage, core.store));
      const key = idempotencyKeyOf(options);
      const { body, replayed } = await once(key, { route: 'publish', messages: [{ channel, ...input }] }, async () => {
        const published = await core.publish(channel, input);
        return jsonAnswer(200, { id: published.message.id, delivered: published.delivered });
      });
      const { id, delivered } = body as { id: string; delivered: number };
      return { id, delivered, replayed };
    },
    async publishMany(messages, options) {
      const inputs = batchOf(messages, messageLimit(core.options.maxMessage, core.store));
      if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('publishMany options must be an object { idempotencyKey? }');
      const key = idempotencyKeyOf(options);
      const { body, replayed } = await once(key, { route: 'publishMany', messages: inputs }, async () => {
        const published = await core.publishMany(inputs);
        return jsonAnswer(200, { ids: published.messages.map((message) => message.id), delivered: published.delivered });
      });
      const { ids, delivered } = body as { ids: string[]; delivered: number };
      return { ids, delivered, replayed };
    },
  };
}

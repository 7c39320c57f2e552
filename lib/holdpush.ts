// createHoldpush: wires the store, the registry, the fan-out and the faces of one holdpush.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { CreateHoldpushOptions, Holdpush } from './api';
import { createGate } from './auth/authorize';
import { createBroadcast } from './broadcast';
import type { Core } from './core';
import { createEmbeddedPublish } from './embed-publish';
import { answerShutdown, answerTimeout } from './endings';
import { type HeaderPairs, answerError } from './http/answer';
import { createClientOf } from './http/client-address';
import { createLogger } from './http/log';
import { createMount } from './http/mount';
import { createRouter } from './http/router';
import { createStaticFiles } from './http/static';
import { fastPathMisfit } from './http/wire';
import { createIdempotencyGate } from './idempotency/gate';
import { createMemoryStore } from './stores/memory/store';
import { type Stats, localFigures, opsRoutes, readStats } from './ops';
import { type HoldpushOptions, checkOptionNames, resolveOptions } from './options';
import { createPendingBytes } from './pending-bytes';
import { createLocalCounts } from './presence/local-counts';
import { createPresence } from './presence/presence';
import { handleBatch } from './pub-batch';
import { handlePub } from './publish';
import { createRegistry } from './registry';
import { createRights } from './rights';
import { handleSeed } from './seed';
import { handleSend } from './send';
import { StoreUnavailableError } from './stores/store';
import { handleSub } from './subscribe';

export type { BatchMessage, CreateHoldpushOptions, Holdpush, PublishManyOptions, PublishManyResult, PublishOptions, PublishResult, StoreContext, StoreFactory } from './api';

/** The options beside HoldpushOptions: the type makes this list whole, so none is refused as unknown. */
const EMBED_OPTIONS: Record<Exclude<keyof CreateHoldpushOptions, keyof HoldpushOptions>, true> = { store: true, publicDir: true, logWrite: true };

/** The files of public/ served at their own paths. */
const PAGE_FILES = ['/index.html', '/send.html', '/holdpush.js', '/holdpush.mjs', '/app.css', '/receiver.js', '/send.js', '/favicon.ico'];

/**
 * The wiring, one closure read top to bottom (longer than a function should be): each part is a
 * few lines handing one module what it needs; the work is in the modules.
 */
export function createHoldpush(given: CreateHoldpushOptions = {}): Holdpush {
  checkOptionNames(given, Object.keys(EMBED_OPTIONS));
  const { store: storeFactory, publicDir, logWrite, ...rest } = given;
  const options = resolveOptions(rest);
  // At start, so that a Node whose node:http the fast path does not fit is warned about at once.
  if (options.fastWire) fastPathMisfit();
  const clientOf = createClientOf(options.trustProxy);
  const logger = createLogger(options.log, logWrite, (req) => clientOf(req).address);
  const rights = createRights(options, clientOf);
  const gate = createGate({
    options,
    rights,
    clientAddress: (req) => clientOf(req).address,
    closing: () => closing,
    log: (error) => logger.error('authorize', error),
  });
  const files = createStaticFiles(publicDir ?? join(__dirname, '..', 'public'));
  const shared: HeaderPairs = ['Access-Control-Allow-Origin', options.corsOrigin, 'Access-Control-Expose-Headers', 'Etag, Last-Modified, X-Holdpush-Gap'];
  const started = Date.now();
  let published = 0;
  let closing = false;
  let closed: Promise<void> | undefined;

  const registry = createRegistry({
    onExpire: (hold) => answerTimeout(shared, hold),
    onChannelEmpty: (channel) => store.released(channel),
    onChannelChange: (channel) => localCounts.touched(channel),
    resolution: Math.min(250, Math.max(10, (options.holdTimeout * 1000) / 20)),
  });
  const store = (storeFactory ?? createMemoryStore)({
    buffer: options.buffer,
    messageTtl: options.messageTtl,
    maxChannels: options.maxChannels,
    maxBufferBytes: options.maxBufferBytes,
    isHeld: (channel) => registry.holders(channel) > 0,
  });
  // A store that wakes this process inside append (the memory store) lets no read race a
  // wake-up. Others wake it over the network: a hold skips what it already read, and a pending
  // one (still confirming its read) is only told that it raced (see lib/hold.ts).
  const wakesInStep = store.wakesInStep === true;
  // Where every process reports its figures (a cluster), /stats and /metrics cover them all.
  const deployment = store.deployment;
  // Memory budgets: unsent bytes, per stream and all together (lib/pending-bytes.ts).
  const pending = createPendingBytes({ limit: options.maxPendingBytes, streamLimit: Math.max(1024 * 1024, 16 * options.maxMessage) });
  // Where every process shares its subscriber counts, a channel's subscribers are the deployment's.
  const localCounts = createLocalCounts(registry.holders, registry.channels);
  const sharedCounts = store.counts;
  sharedCounts?.source(localCounts);
  const elsewhere = (channel: string): number => sharedCounts?.others(channel) ?? 0;
  const fanOut = createBroadcast({
    registry,
    shared,
    pending,
    // Memory budgets: encodings of recent messages only, within an eighth of the buffer budget.
    encodingBytes: options.maxBufferBytes / 8,
    fastWire: options.fastWire,
    follows: wakesInStep ? undefined : (token, position) => store.follows(token, position),
  });
  const figures = () => localFigures(registry, published, fanOut.delivered);
  deployment?.report(figures);
  const subscribers = (channel: string): number => registry.holders(channel) + elsewhere(channel);
  const presence = createPresence({ options, local: localCounts, shared: sharedCounts, subscribers, held: registry.channels });
  const stats = (): Stats => readStats(started, store, figures(), deployment?.totals(), gate.counts(), pending, presence.webhook());
  const unwatch = store.watch(fanOut.events);
  const keepaliveTimer = setInterval(fanOut.keepalive, options.keepalive * 1000);
  keepaliveTimer.unref();

  const error: Core['error'] = (res, status, code, message, headers = []) => answerError(res, status, code, message, [...shared, ...headers]);
  const core: Core = {
    options,
    store,
    registry,
    gate,
    shared,
    wakesInStep,
    // Reads without a promise only where no wake-up can come between a read and its hold.
    immediate: wakesInStep ? store.immediate : undefined,
    closing: () => closing,
    pending,
    subscribers,
    async publish(channel, input) {
      const { message, info } = store.appendWithInfo === undefined ? { message: await store.append(channel, input), info: undefined } : await store.appendWithInfo(channel, input);
      published += 1;
      // This process's held subscribers were just written to (and long-polls let go): count
      // those, plus the other processes' as last heard.
      return { message, delivered: fanOut.deliveredTo(message) + elsewhere(channel), info };
    },
    async publishMany(inputs) {
      const messages = await store.appendMany(inputs);
      published += messages.length;
      let delivered = 0;
      // As publish(): this process's held subscribers each message was written to, plus the
      // other processes' on its channel as last heard.
      for (const message of messages) delivered += fanOut.deliveredTo(message) + elsewhere(message.channel);
      return { messages, delivered };
    },
    idempotency: createIdempotencyGate(store.idempotency, options.idempotencyTtl * 1000),
    encoded: fanOut.encoded,
    batchAnswer: fanOut.batchAnswer,
    fail(res, failure) {
      if (failure instanceof StoreUnavailableError) {
        error(res, 503, failure.code, failure.message, ['Retry-After', '1']);
        return;
      }
      logger.error('request', failure);
      error(res, 500, 'internal', 'internal error');
    },
    error,
  };

  const serveFile = (name: string) => (req: IncomingMessage, res: ServerResponse) => files.serve(req, res, name, shared);
  const failed = (res: ServerResponse) => (failure: unknown) => core.fail(res, failure);
  const router = createRouter()
    .on('GET', '/', (req, res, { query }) => handleSeed(core, req, res, query, () => files.serve(req, res, '/index.html', shared)))
    .on('GET', '/send', serveFile('/send.html'))
    .on('POST', '/send', (req, res, { query }) => void handleSend(core, req, res, query).catch(failed(res)))
    .on('POST', '/pub', (req, res) => void handleBatch(core, req, res).catch(failed(res)))
    .on(['GET', 'POST', 'PUT', 'DELETE'], '/pub/', (req, res, { param }) => void handlePub(core, req, res, param).catch(failed(res)))
    .on('GET', '/sub/', (req, res, { param, query }) => handleSub(core, req, res, param, query));
  opsRoutes(router, shared, stats);
  for (const name of PAGE_FILES) if (files.has(name)) router.on('GET', name, serveFile(name));
  const handle = createMount({ prefix: options.prefix, router, shared, logger, closing: () => closing, error, fail: core.fail });

  const { publish, publishMany } = createEmbeddedPublish(core);

  const { emitter } = presence;
  const holdpush: Holdpush = {
    options,
    handle,
    attach(server) {
      function holdpushOnRequest(req: IncomingMessage, res: ServerResponse): void {
        if (!handle(req, res) && server.listenerCount('request') === 1) {
          logger.request(req, res);
          error(res, 404, 'not_found', 'no such route');
        }
      }
      server.on('request', holdpushOnRequest);
      return () => {
        server.removeListener('request', holdpushOnRequest);
      };
    },
    publish,
    publishMany,
    stats,
    on(event, listener) {
      emitter.on(event, listener);
      return holdpush;
    },
    once(event, listener) {
      emitter.once(event, listener);
      return holdpush;
    },
    off(event, listener) {
      emitter.off(event, listener);
      return holdpush;
    },
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(keepaliveTimer);
        gate.close();
        for (const hold of registry.drain()) answerShutdown(shared, hold);
        pending.clear();
        unwatch();
        await presence.close();
        await store.close();
      })();
      return closed;
    },
  };
  return holdpush;
}

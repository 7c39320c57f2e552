import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { EncodedMessage, JSON_TYPE, type SharedHeaders, broadcast } from './broadcast';
import { type Core, type Published, accepts, failWith, pairs } from './core';
import { type ErrorCode, echo, sendError } from './errors';
import { createLogger, type Write } from './log';
import { createMemoryStore } from './memory-store';
import { EVERY_UID, isValidEventName, isValidName, parseChannelList, uidChannel } from './names';
import { type Stats, prometheus } from './ops';
import { type HoldpushOptions, resolveOptions } from './options';
import { handlePub, handleSend } from './publish';
import { type Hold, type HoldMode, createRegistry } from './registry';
import { createRights, refusalHeaders } from './rights';
import { type Query, type RouteContext, createRouter } from './router';
import type { ClusterStore } from './cluster-store';
import { createStaticFiles } from './static';
import type { MessageStore, StoredMessage } from './store';
import { type Subscription, answerGone, answerShutdown, answerTimeout, readPosition, subscribe, subscribeNow } from './subscribe';

/** What a store factory is told: the limits, and whether this process holds a channel now. */
export interface StoreContext {
  readonly buffer: number;
  readonly messageTtl: number;
  readonly maxChannels: number;
  isHeld(channel: string): boolean;
}

export type StoreFactory = (context: StoreContext) => MessageStore;

export interface CreateHoldpushOptions extends Partial<HoldpushOptions> {
  /** Where messages live. @defaultValue an in-memory store */
  store?: StoreFactory;
  /** The folder of the pages and the browser client. @defaultValue the package's `public/` */
  publicDir?: string;
  /** Where request log lines go. @defaultValue standard output */
  logWrite?: Write;
}

export interface PublishOptions {
  /** @defaultValue 'text/plain; charset=utf-8' */
  contentType?: string;
  /** EventSource event name. */
  event?: string;
}

export interface PublishResult {
  /** The message id, `"<unix seconds>:<token>"`. */
  readonly id: string;
  /** Held responses (and streams) in this process that got it. */
  readonly delivered: number;
}

export interface Holdpush {
  readonly options: Readonly<HoldpushOptions>;
  /** Answers holdpush's routes and returns true; returns false, touching nothing, for others. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Serves holdpush on a server; returns the function that takes it off again. */
  attach(server: Server): () => void;
  /** Publishes to a channel, to one uid (`'uid:<uid>'`), or to every uid (`'uid:*'`). */
  publish(target: string, data: string | Uint8Array, options?: PublishOptions): Promise<PublishResult>;
  stats(): Stats;
  /** Answers every held request (503, streams end) and stops; idempotent. */
  close(): Promise<void>;
}

/** What node:http accepts in a header value (a publisher's own come through its parser). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const NO_QUERY: Query = new URLSearchParams();

/** Headers a subscriber may send cross-origin (docs/protocol.md, "CORS": `Etag` for NchanSubscriber.js). */
const ALLOW_HEADERS = 'If-None-Match, If-Modified-Since, Etag, Last-Event-ID, Content-Type, Cache-Control, Authorization, X-EventSource-Event';

export function createHoldpush(given: CreateHoldpushOptions = {}): Holdpush {
  const { store: storeFactory, publicDir, logWrite, ...rest } = given;
  const options = resolveOptions(rest);
  const logger = createLogger(options.log, logWrite);
  const rights = createRights(options);
  const files = createStaticFiles(publicDir ?? join(__dirname, '..', 'public'));
  const shared: SharedHeaders = [
    'Access-Control-Allow-Origin', options.corsOrigin,
    'Access-Control-Expose-Headers', 'Etag, Last-Modified, X-Holdpush-Gap',
  ];
  const streamLimit = Math.max(1024 * 1024, 16 * options.maxMessage);
  const started = Date.now();
  let published = 0;
  let delivered = 0;
  let closing = false;
  let closed: Promise<void> | undefined;
  const encodings = new WeakMap<StoredMessage, EncodedMessage>();
  const deliveries = new WeakMap<StoredMessage, number>();

  const registry = createRegistry({
    onExpire: (hold) => answerTimeout(core, hold),
    onChannelEmpty: (channel) => store.released(channel),
    resolution: Math.min(250, Math.max(10, (options.holdTimeout * 1000) / 20)),
  });
  const store = (storeFactory ?? createMemoryStore)({
    buffer: options.buffer,
    messageTtl: options.messageTtl,
    maxChannels: options.maxChannels,
    isHeld: (channel) => registry.holders(channel) > 0,
  });
  // The memory store wakes this process inside append, so no read can race a wake-up. Other
  // stores wake it over the network: a hold skips what it already read, and a pending one
  // (still confirming its read) is only told that it raced (see subscribe).
  const wakesInStep = store.kind === 'memory';
  // Reads without a promise only where no wake-up can come between a read and its hold.
  const immediate = wakesInStep ? store.immediate : undefined;
  // In a cluster every worker reports its figures, so /stats and /metrics cover them all.
  const clusterStore = store.kind === 'cluster' && 'totals' in store ? (store as ClusterStore) : undefined;
  clusterStore?.report(() => ({
    held: { longpoll: registry.longpolls, stream: registry.streams, total: registry.size },
    published,
    delivered,
  }));
  const wants = wakesInStep
    ? undefined
    : (token: string) => (hold: Hold) => {
        if (!store.follows(token, hold.position)) return false;
        if (!hold.pending) return true;
        hold.raced = true;
        return false;
      };

  function encoded(message: StoredMessage): EncodedMessage {
    let encoding = encodings.get(message);
    if (encoding === undefined) {
      encoding = new EncodedMessage(message, shared);
      encodings.set(message, encoding);
    }
    return encoding;
  }

  const unwatch = store.watch({
    message(message) {
      const holds = registry.take(message.channel, wants?.(message.token));
      if (holds.length === 0) return;
      broadcast(encoded(message), holds, streamLimit);
      delivered += holds.length;
      deliveries.set(message, holds.length);
    },
    deleted(channel) {
      for (const hold of registry.take(channel)) {
        // take released the long-polls; streams stay held until let go here.
        if (hold.mode === 'stream') registry.release(hold);
        answerGone(core, hold);
      }
    },
  });

  const keepaliveTimer = setInterval(() => {
    registry.eachStream((hold) => {
      hold.res.write(':\n\n');
      if (hold.res.writableLength > streamLimit) hold.res.destroy();
    });
  }, options.keepalive * 1000);
  keepaliveTimer.unref();

  function error(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string | number> = {}): void {
    sendError(res, status, code, message, { ...pairs(shared), ...headers });
  }

  const core: Core = {
    options,
    store,
    registry,
    rights,
    shared,
    wakesInStep,
    closing: () => closing,
    async publish(channel, input) {
      const message = await store.append(channel, input);
      published += 1;
      return { message, delivered: deliveries.get(message) ?? 0 } satisfies Published;
    },
    encoded,
    fail: (res, failure) => failWith(res, failure, shared, (e) => logger.error('request', e)),
    error,
  };

  function startSubscription(req: IncomingMessage, res: ServerResponse, channels: readonly string[], mode: HoldMode, query: Query, newest: boolean, reloadUrl?: string): void {
    const position = readPosition(req, query);
    if (!position.ok) {
      error(res, 400, 'bad_position', `not a position: ${echo(position.sent)} (a message id "<seconds>:<token>" or a token)`);
      return;
    }
    if (registry.size >= options.maxSubscribers) {
      error(res, 503, 'too_many_subscribers', `this server holds its limit of ${options.maxSubscribers} subscribers (--max-subscribers)`, { 'Retry-After': 2 });
      return;
    }
    const sub: Subscription = { channels, mode, position: position.token, sent: position.sent, newest, reloadUrl };
    if (immediate !== undefined && mode !== 'stream') {
      if (immediate.touch(channels)) subscribeNow(core, req, res, sub, immediate);
      else tooManyChannels(res);
      return;
    }
    store
      .touch(channels)
      .then((ok) => (ok ? subscribe(core, req, res, sub) : tooManyChannels(res)))
      .catch((failure: unknown) => core.fail(res, failure));
  }

  function tooManyChannels(res: ServerResponse): void {
    error(res, 503, 'too_many_channels', `this server holds its limit of ${options.maxChannels} channels (--max-channels)`, { 'Retry-After': 2 });
  }

  function refuseSubscriber(req: IncomingMessage, res: ServerResponse, names: readonly string[], query: Query): boolean {
    const refusal = rights.subscribe(req, names, query.get('token'));
    if (refusal === null) return false;
    error(res, refusal.status, refusal.code, refusal.message, refusalHeaders(refusal));
    return true;
  }

  function serveFile(name: string) {
    return (req: IncomingMessage, res: ServerResponse) => files.serve(req, res, name, shared);
  }

  const router = createRouter()
    .on('GET', '/', (req, res, { query }) => {
      const uid = query.get('uid');
      if (uid === null || uid === '') {
        files.serve(req, res, '/index.html', shared);
        return;
      }
      if (!isValidName(uid)) {
        error(res, 400, 'bad_uid', `not a uid: ${echo(uid)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
        return;
      }
      if (refuseSubscriber(req, res, [`uid:${uid}`], query)) return;
      let reloadUrl: string | undefined;
      if (accepts(req, 'text/html')) {
        const again = new URLSearchParams(query.toString());
        again.delete('last_event_id');
        reloadUrl = `${options.prefix}/?${again.toString()}`;
      }
      startSubscription(req, res, [uidChannel(uid), EVERY_UID], 'seed', query, true, reloadUrl);
    })
    .on('GET', '/send', serveFile('/send.html'))
    .on('POST', '/send', (req, res, { query }) => {
      handleSend(core, req, res, query).catch((failure: unknown) => core.fail(res, failure));
    })
    .on(['GET', 'POST', 'PUT', 'DELETE'], '/pub/', (req, res, { param }) => {
      handlePub(core, req, res, param).catch((failure: unknown) => core.fail(res, failure));
    })
    .on('GET', '/sub/', (req, res, { param, query }) => {
      const channels = parseChannelList(param);
      if (channels === null) {
        error(res, 400, 'bad_channel', `not a channel list: ${echo(param)} (up to 16 names of A-Z a-z 0-9 _ - . @ ~, comma-separated)`);
        return;
      }
      if (refuseSubscriber(req, res, channels, query)) return;
      const mode = accepts(req, 'text/event-stream') ? 'stream' : accepts(req, 'application/json') ? 'batch' : 'poll';
      startSubscription(req, res, channels, mode, query, options.firstMessage === 'newest');
    })
    .on('GET', '/healthz', (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain; charset=utf-8', 'Cache-Control', 'no-store', ...shared]);
      res.end('ok');
    })
    .on('GET', '/stats', (_req, res) => {
      const body = JSON.stringify(stats());
      res.writeHead(200, ['Content-Type', JSON_TYPE, 'Cache-Control', 'no-store', ...shared]);
      res.end(body);
    })
    .on('GET', '/metrics', (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control', 'no-store', ...shared]);
      res.end(prometheus(stats()));
    });
  for (const name of ['/index.html', '/send.html', '/holdpush.js', '/holdpush.mjs', '/app.css', '/receiver.js', '/send.js', '/favicon.ico']) {
    if (files.has(name)) router.on('GET', name, serveFile(name));
  }

  function stats(): Stats {
    const storeStats = store.stats();
    const totals = clusterStore?.totals();
    return {
      uptime: Math.floor((Date.now() - started) / 1000),
      held: totals?.held ?? { longpoll: registry.longpolls, stream: registry.streams, total: registry.size },
      channels: storeStats.channels,
      messages: { published: totals?.published ?? published, delivered: totals?.delivered ?? delivered, expired: storeStats.expired, evicted: storeStats.evicted },
      bufferBytes: storeStats.bufferBytes,
      store: store.kind,
    };
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    let path = mark < 0 ? url : url.slice(0, mark);
    if (options.prefix !== '') {
      if (path === options.prefix) {
        // The pages link to their files relatively (app.css, holdpush.js, send): at "/push" those
        // would resolve under "/", outside the mount. Send the page's visitors to "/push/".
        const method = req.method ?? 'GET';
        if ((method === 'GET' || method === 'HEAD') && !new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1)).get('uid')) {
          logger.request(req, res);
          res.writeHead(308, { Location: `${options.prefix}/${mark < 0 ? '' : url.slice(mark)}`, 'Content-Length': 0, 'Cache-Control': 'no-store' });
          res.end();
          return true;
        }
        path = '/';
      } else if (path.startsWith(`${options.prefix}/`)) path = path.slice(options.prefix.length);
      else return false;
    }
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      const allow = router.allow(path);
      if (allow === '') return false;
      logger.request(req, res);
      res.writeHead(204, [
        'Allow', allow,
        'Access-Control-Allow-Methods', allow,
        'Access-Control-Allow-Headers', ALLOW_HEADERS,
        'Access-Control-Max-Age', '600',
        ...shared,
      ]);
      res.end();
      return true;
    }
    const match = router.find(method, path);
    if (match.kind === 'none') return false;
    logger.request(req, res);
    if (closing) {
      error(res, 503, 'shutting_down', 'the server is shutting down; retry shortly', { 'Retry-After': 1, Connection: 'close' });
      return true;
    }
    if (match.kind === 'method') {
      error(res, 405, 'method_not_allowed', `${echo(method)} is not allowed here`, { Allow: match.allow });
      return true;
    }
    let param = match.param;
    if (param.includes('%')) {
      try {
        param = decodeURIComponent(param);
      } catch {
        error(res, 400, 'bad_request', 'the path is not valid percent-encoding');
        return true;
      }
    }
    const context: RouteContext = { path, param, query: mark < 0 ? NO_QUERY : new URLSearchParams(url.slice(mark + 1)) };
    try {
      match.handler(req, res, context);
    } catch (failure) {
      core.fail(res, failure);
    }
    return true;
  }

  function publish(target: string, data: string | Uint8Array, publishOptions: PublishOptions = {}): Promise<PublishResult> {
    let channel = target;
    if (target.startsWith('uid:')) {
      const uid = target.slice(4);
      if (uid !== '*' && !isValidName(uid)) return Promise.reject(new TypeError(`not a uid: ${echo(uid)}`));
      channel = uid === '*' ? EVERY_UID : uidChannel(uid);
    } else if (!isValidName(target)) {
      return Promise.reject(new TypeError(`not a channel name: ${echo(target)}`));
    }
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (bytes.length > options.maxMessage) return Promise.reject(new RangeError(`a message may be at most ${options.maxMessage} bytes`));
    const { contentType = 'text/plain; charset=utf-8', event } = publishOptions;
    // Both reach the wire as they are: a header value, and a line of an EventSource event.
    if (!HEADER_VALUE.test(contentType)) return Promise.reject(new TypeError(`not a header value: ${echo(contentType)}`));
    if (event !== undefined && !isValidEventName(event)) return Promise.reject(new TypeError(`not an event name: ${echo(event)}`));
    return core
      .publish(channel, { data: bytes, contentType, event })
      .then((result) => ({ id: result.message.id, delivered: result.delivered }));
  }

  return {
    options,
    handle,
    attach(server) {
      function holdpushOnRequest(req: IncomingMessage, res: ServerResponse): void {
        if (!handle(req, res) && server.listenerCount('request') === 1) {
          logger.request(req, res);
          sendError(res, 404, 'not_found', 'no such route', pairs(shared));
        }
      }
      server.on('request', holdpushOnRequest);
      return () => {
        server.removeListener('request', holdpushOnRequest);
      };
    },
    publish,
    stats,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(keepaliveTimer);
        for (const hold of registry.drain()) answerShutdown(core, hold);
        unwatch();
        await store.close();
      })();
      return closed;
    },
  };
}

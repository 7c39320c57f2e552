/**
 * One connection to a holdpush server: the poll loop (batch, longpoll, the uid face) or an
 * EventSource, its position, backoff and status. It hands each answer's messages to its owner
 * as one `Received`, in order, and owns every timer, request and stream it starts: stop()
 * releases them all.
 */
import { type Backoff, createBackoff } from './backoff';
import type { Settings } from './options';
import type { EventSourceLike, FetchLike, GapInfo, Message, ResponseLike, Status, StatusDetail } from './types';
import { errorDetail, etagToken, parseBatch, retryAfterMs, timeFromId } from './wire';

/** A long-poll still pending after this long has been accepted and is being held by the server. */
const SETTLE_MS = 1000;

/** What one answer (or one stream event) brought. */
export interface Received {
  readonly messages: readonly Message[];
  /** The position after these messages; null when it did not move. */
  readonly to: string | null;
  /** Set when messages after the position asked for were dropped before they reached us. */
  readonly gap: GapInfo | null;
}

export interface ConnectionEvents {
  /** Called synchronously with each answer's messages; the owner may stop() inside it. */
  received(batch: Received): void;
  /** `stopped` comes only from the connection's own end (a 410, a client error). */
  status(status: Status, detail: Omit<StatusDetail, 'role'>): void;
}

export interface Connection {
  readonly position: string | null;
  /** Ends it silently: aborts the request in flight, closes the stream, clears its timers. */
  stop(): void;
  /** batch: poll these channels from the current position instead (the poll in flight is dropped). */
  retarget(channels: readonly string[]): void;
}

type Timer = ReturnType<typeof setTimeout>;

export function openConnection(settings: Settings, events: ConnectionEvents): Connection {
  const { wanted, transport, token, events: eventNames } = settings;
  const backoff: Backoff = createBackoff(settings.backoff.min, settings.backoff.max);
  let channels = wanted.channels;
  let position = settings.position;
  let stopped = false;
  let lastStatus: Status | null = null;
  let controller: AbortController | null = null;
  let sleepTimer: Timer | null = null;
  let wake: (() => void) | null = null;
  let settleTimer: Timer | null = null;
  let source: EventSourceLike | null = null;
  let sourceEverOpen = false;
  /** Bumped by retarget(): an answer to an older request is dropped, and asked for again. */
  let generation = 0;

  function single(): string | null {
    return channels !== null && channels.length === 1 ? (channels[0] as string) : null;
  }

  function setStatus(status: Status, detail: Omit<StatusDetail, 'role'> = {}): void {
    if (stopped && status !== 'stopped') return;
    lastStatus = status;
    events.status(status, detail);
  }

  function url(withToken: boolean): string {
    const query: string[] = [];
    let u = settings.base;
    if (wanted.uid !== null) query.push(`uid=${encodeURIComponent(wanted.uid)}`);
    else u += `sub/${(channels as readonly string[]).join(',')}`;
    if (position) query.push(`last_event_id=${encodeURIComponent(position)}`);
    if (withToken && token) query.push(`token=${encodeURIComponent(token)}`);
    return query.length ? `${u}?${query.join('&')}` : u;
  }

  function requestHeaders(): Record<string, string> {
    const h: Record<string, string> = { ...settings.headers };
    if (transport === 'batch') h.Accept = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      wake = resolve;
      sleepTimer = setTimeout(() => {
        sleepTimer = null;
        wake = null;
        resolve();
      }, ms);
    });
  }

  function clearSettle(): void {
    if (settleTimer !== null) {
      clearTimeout(settleTimer);
      settleTimer = null;
    }
  }

  function release(): void {
    clearSettle();
    if (sleepTimer !== null) {
      clearTimeout(sleepTimer);
      sleepTimer = null;
    }
    if (wake) {
      const resolve = wake;
      wake = null;
      resolve();
    }
    if (controller) {
      controller.abort();
      controller = null;
    }
    if (source) {
      source.close();
      source = null;
    }
  }

  /** The connection's own end: a 410 or a client error. */
  function end(detail: Omit<StatusDetail, 'role'>): void {
    if (stopped) return;
    stopped = true;
    release();
    setStatus('stopped', detail);
  }

  function hand(batch: Received): void {
    events.received(batch);
    if (!stopped && batch.to !== null) position = batch.to;
  }

  // ---- fetch transports (batch, longpoll, uid face) --------------------------------------------

  function readText(res: ResponseLike): Promise<string> {
    return res.text().then(null, () => '');
  }

  /** Handles one answer; resolves to the delay in ms before the next poll (0: at once, -1: ended). */
  function handle(res: ResponseLike, mine: number): Promise<number> {
    const status = res.status;
    if (status === 200) {
      return res.text().then((text) => {
        if (mine !== generation) return 0;
        if (transport === 'batch') handleBatch(text);
        else handleOne(res, text);
        backoff.reset();
        return 0;
      });
    }
    if (status === 204 || status === 408) {
      // The hold timed out; come back from the same place, or, with no position yet, from the
      // head the server names (batch too: asking again with none would start at the newest
      // message under --first-message newest and skip what came in between).
      const head = etagToken(res.headers.get('Etag'));
      return readText(res).then(() => {
        if (mine === generation && head && !position) hand({ messages: [], to: head, gap: null });
        backoff.reset();
        return 0;
      });
    }
    return readText(res).then((text) => {
      const detail: Omit<StatusDetail, 'role'> & { delay?: number } = errorDetail(status, text);
      if (status === 410) {
        end({ ...detail, reason: 'gone' });
        return -1;
      }
      if (status >= 400 && status < 500 && status !== 429) {
        end({ ...detail, reason: 'error' });
        return -1;
      }
      const delay = backoff.next(retryAfterMs(res.headers.get('Retry-After'), Date.now()));
      setStatus('reconnecting', { ...detail, delay });
      return delay;
    });
  }

  function handleBatch(text: string): void {
    const body = parseBatch(text); // throws on a broken body: retried with backoff
    const from = position;
    const fallback = single();
    const messages: Message[] = body.messages.map((m, i) => {
      const id = typeof m.id === 'string' && m.id !== '' ? m.id : null;
      const message: { -readonly [K in keyof Message]: Message[K] } = {
        id,
        channel: typeof m.channel === 'string' ? m.channel : fallback,
        time: typeof m.time === 'number' ? m.time : timeFromId(id),
        contentType: typeof m.contentType === 'string' ? m.contentType : null,
        data: typeof m.data === 'string' ? m.data : '',
        gap: body.gap && i === 0,
      };
      if (m.encoding === 'base64') message.encoding = 'base64';
      return message;
    });
    const lastId = messages.length > 0 ? messages[messages.length - 1]?.id ?? null : null;
    hand({
      messages,
      to: body.last ?? lastId,
      gap: body.gap ? { position: from, oldest: messages[0]?.id ?? null } : null,
    });
  }

  function handleOne(res: ResponseLike, data: string): void {
    const tag = etagToken(res.headers.get('Etag'));
    const modified = Date.parse(res.headers.get('Last-Modified') ?? '');
    const isGap = res.headers.get('X-Holdpush-Gap') === '1';
    const id = tag ? (Number.isNaN(modified) ? tag : `${Math.floor(modified / 1000)}:${tag}`) : null;
    const from = position;
    const message: Message = {
      id,
      channel: single(),
      time: Number.isNaN(modified) ? null : modified,
      contentType: res.headers.get('Content-Type'),
      data,
      gap: isGap,
    };
    // A uid face answer without an Etag (stripped by a proxy?): wait for the next message, as the original did.
    if (!tag && wanted.uid !== null) position = null;
    hand({ messages: [message], to: id, gap: isGap ? { position: from, oldest: id } : null });
    if (!tag && wanted.uid === null) {
      // Without a position every poll would replay the oldest message: stop instead of looping.
      end({ reason: 'error', status: 200, error: 'no_etag', message: "the response had no Etag (a proxy may strip it); use transport 'batch'" });
    }
  }

  function poll(): Promise<void> {
    if (stopped) return Promise.resolve();
    const ac = new AbortController();
    const mine = generation;
    controller = ac;
    if (lastStatus !== 'open') {
      settleTimer = setTimeout(() => {
        settleTimer = null;
        if (controller === ac && !stopped) setStatus('open');
      }, SETTLE_MS);
    }
    const fetchFn = settings.fetch as FetchLike;
    return Promise.resolve()
      .then(() => fetchFn(url(false), { method: 'GET', headers: requestHeaders(), cache: 'no-store', signal: ac.signal }))
      .then((res) => {
        clearSettle();
        if (stopped) return -1;
        if (mine !== generation) return 0;
        if (res.status === 200 || res.status === 204 || res.status === 408) setStatus('open');
        return handle(res, mine);
      })
      .then(null, (error: unknown) => {
        clearSettle();
        if (stopped) return -1;
        if (mine !== generation) return 0; // aborted by retarget(): ask again at once
        const delay = backoff.next(null);
        const text = error instanceof Error ? error.message : String(error);
        setStatus('reconnecting', { delay, error: 'network', message: text.slice(0, 200) });
        return delay;
      })
      .then((delay) => {
        if (controller === ac) controller = null;
        if (stopped || delay < 0) return undefined;
        return (delay > 0 ? sleep(delay) : Promise.resolve()).then(poll);
      });
  }

  // ---- EventSource transport -------------------------------------------------------------------

  let pendingGap = false;

  function streamMessage(es: EventSourceLike, event: { data?: unknown; lastEventId?: string; type: string }): void {
    if (stopped || source !== es) return;
    const id = event.lastEventId || null;
    const message: { -readonly [K in keyof Message]: Message[K] } = {
      id,
      channel: single(),
      time: timeFromId(id),
      contentType: null,
      data: typeof event.data === 'string' ? event.data : '',
      gap: pendingGap,
    };
    if (event.type && event.type !== 'message') message.event = event.type;
    pendingGap = false;
    hand({ messages: [message], to: id, gap: null });
  }

  function streamGap(es: EventSourceLike, event: { data?: unknown }): void {
    if (stopped || source !== es) return;
    const info: { position: string | null; oldest: string | null } = { position, oldest: null };
    try {
      const d: unknown = JSON.parse(String(event.data));
      if (d !== null && typeof d === 'object') {
        const { position: p, oldest } = d as { position?: unknown; oldest?: unknown };
        if (typeof p === 'string') info.position = p;
        if (typeof oldest === 'string') info.oldest = oldest;
      }
    } catch {
      // keep the defaults
    }
    pendingGap = true;
    hand({ messages: [], to: null, gap: info });
  }

  function openStream(): void {
    if (stopped) return;
    const EventSourceFn = settings.EventSource as NonNullable<Settings['EventSource']>;
    const es = new EventSourceFn(url(true));
    source = es;
    es.addEventListener('open', () => {
      if (stopped || source !== es) return;
      sourceEverOpen = true;
      backoff.reset();
      setStatus('open');
    });
    const onMessage = (event: { data?: unknown; lastEventId?: string; type: string }) => streamMessage(es, event);
    es.addEventListener('message', onMessage);
    es.addEventListener('gap', (event) => streamGap(es, event));
    for (const name of eventNames) {
      if (name !== 'message' && name !== 'gap') es.addEventListener(name, onMessage);
    }
    es.addEventListener('error', () => {
      if (stopped || source !== es) return;
      if (es.readyState === 2) {
        // CLOSED: the browser gave up (an HTTP error or a wrong content type). Come back
        // ourselves, from our own position, with backoff.
        es.close();
        source = null;
        const delay = backoff.next(null);
        setStatus('reconnecting', { delay, error: 'eventsource', message: sourceEverOpen ? 'stream closed' : 'could not open the stream' });
        sleep(delay).then(openStream);
      } else {
        // CONNECTING: the EventSource reconnects by itself with Last-Event-ID.
        setStatus('reconnecting', { delay: null, error: 'eventsource', message: 'reconnecting' });
      }
    });
  }

  setStatus('connecting');
  if (transport === 'eventsource') openStream();
  else void poll();

  return {
    get position() {
      return position;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      release();
    },
    retarget(list) {
      if (stopped || transport !== 'batch' || wanted.uid !== null) return;
      channels = list.slice();
      generation++;
      // A request in flight is dropped; one asleep after an error keeps its backoff and then
      // asks for the new set.
      if (controller) {
        controller.abort();
        controller = null;
      }
    },
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSON_TYPE, batchAnswer, writeMessage } from './broadcast';
import { type Core, gone } from './core';
import { errorBody } from './errors';
import { parsePosition } from './names';
import type { Hold, HoldMode } from './registry';
import type { Query } from './http/router';
import type { ImmediateReads, ReadResult } from './store';

/** Messages one batch answer carries at most. */
const BATCH_LIMIT = 1000;
/** Messages read at a time while a stream replays. */
const REPLAY_PAGE = 1000;

export type PositionResult = { ok: true; token: string | null; sent: string | null } | { ok: false; sent: string };

/**
 * The first position named, in the order of docs/protocol.md ("Positions and gaps"); a
 * malformed one is an error, not ignored.
 */
export function readPosition(req: IncomingMessage, query: Query): PositionResult {
  const candidates = [req.headers['if-none-match'], req.headers['last-event-id'], query.get('last_event_id'), req.headers.etag];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string' || candidate.trim() === '') continue;
    const parsed = parsePosition(candidate);
    return parsed.ok ? { ok: true, token: parsed.token, sent: candidate } : { ok: false, sent: candidate };
  }
  return { ok: true, token: null, sent: null };
}

export interface Subscription {
  readonly channels: readonly string[];
  readonly mode: HoldMode;
  /** The client's position, or null to start as `newest` says. */
  readonly position: string | null;
  /** What the client sent as its position (echoed in a stream's gap event). */
  readonly sent: string | null;
  /** With no position: from the oldest message held, or only what comes next. */
  readonly newest: boolean;
  /** Seed face, browser tab: the page to reload at the timeout. */
  readonly reloadUrl: string | undefined;
}

function readLimit(mode: HoldMode): number {
  return mode === 'batch' ? BATCH_LIMIT : mode === 'stream' ? REPLAY_PAGE : 1;
}

/**
 * Answers a long-poll on a store that reads at once (`store.immediate`): in the request's own
 * event, so it is answered or held before any other event can run, and no read can race a wake-up.
 */
export function subscribeNow(core: Core, req: IncomingMessage, res: ServerResponse, sub: Subscription, reads: ImmediateReads): void {
  const after = sub.position ?? (sub.newest ? reads.head() : null);
  const result = reads.read(sub.channels, after, readLimit(sub.mode));
  if (result.messages.length > 0) answerNow(core, res, sub.mode, result, result.gap);
  else hold(core, req, res, sub, after, result, false);
}

/**
 * Answers a subscriber: at once when messages after its position are held, else holds it.
 * With a store that wakes this process over the network, a wake-up may come while a read is
 * on its way, before the hold exists: such holds start `pending` (a wake-up only marks them
 * `raced`) and read again until a read saw everything, so no message falls in between.
 */
export async function subscribe(core: Core, req: IncomingMessage, res: ServerResponse, sub: Subscription): Promise<void> {
  const { store, registry } = core;
  const after = sub.position ?? (sub.newest ? await store.head() : null);
  const limit = readLimit(sub.mode);
  let result = await store.read(sub.channels, after, limit);
  if (gone(res)) return;
  if (sub.mode !== 'stream' && result.messages.length > 0) {
    answerNow(core, res, sub.mode, result, result.gap);
    return;
  }
  if (sub.mode === 'stream') {
    openStream(core, res, result.gap, sub.sent, result);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    for (;;) {
      for (const message of result.messages) res.write(core.encoded(message).sse);
      if (!result.more) break;
      result = await store.read(sub.channels, result.head, limit);
      if (gone(res)) return;
    }
  }
  const held = hold(core, req, res, sub, after, result, !core.wakesInStep);
  while (held?.pending === true) {
    held.raced = false;
    let again: ReadResult;
    try {
      again = await store.read(sub.channels, held.position, limit);
    } catch (error) {
      if (registry.release(held)) throw error;
      return;
    }
    if (!registry.has(held)) return;
    if (sub.mode !== 'stream' && again.messages.length > 0) {
      registry.release(held);
      answerNow(core, res, sub.mode, again, held.gap || again.gap);
      return;
    }
    for (const message of again.messages) res.write(core.encoded(message).sse);
    held.position = again.head;
    if (!again.more && !held.raced) held.pending = false;
  }
}

/** Hands a subscriber that has nothing to read yet to the registry (or answers 503 in a shutdown). */
function hold(core: Core, req: IncomingMessage, res: ServerResponse, sub: Subscription, after: string | null, result: ReadResult, pending: boolean): Hold | undefined {
  if (core.closing()) {
    answerShutdown(core, { res, mode: sub.mode });
    return undefined;
  }
  const stream = sub.mode === 'stream';
  const held: Hold = {
    res,
    mode: sub.mode,
    channels: sub.channels,
    position: stream ? result.head : (after ?? result.head),
    gap: !stream && result.gap,
    deadline: stream ? 0 : Date.now() + core.options.holdTimeout * 1000 * (1 - Math.random() * 0.1),
    ifModifiedSince: req.headers['if-modified-since'],
    reloadUrl: sub.reloadUrl,
    pending,
    raced: false,
  };
  core.registry.add(held);
  return held;
}

function answerNow(core: Core, res: ServerResponse, mode: HoldMode, result: ReadResult, gap: boolean): void {
  if (mode !== 'batch') {
    writeMessage(res, core.encoded(result.messages[0] as ReadResult['messages'][number]), mode, gap, core.options.fastWire);
    return;
  }
  const last = result.messages[result.messages.length - 1] as ReadResult['messages'][number];
  batchAnswer(core.shared, result.messages.map(core.encoded), last.id, gap).writeTo(res, core.options.fastWire);
}

function openStream(core: Core, res: ServerResponse, gap: boolean, sent: string | null, first: ReadResult): void {
  res.writeHead(200, [
    'Content-Type', 'text/event-stream; charset=utf-8',
    'Cache-Control', 'no-store',
    'X-Accel-Buffering', 'no',
    'X-Content-Type-Options', 'nosniff',
    ...core.shared,
  ]);
  res.write(':ok\n\n');
  if (gap) {
    const oldest = first.messages[0]?.id ?? null;
    res.write(`event: gap\ndata: ${JSON.stringify({ position: sent, oldest })}\n\n`);
  }
}

function respond(res: ServerResponse, status: number, headers: string[], body?: Buffer | string): void {
  if (body !== undefined) headers.push('Content-Length', String(Buffer.byteLength(body)));
  res.writeHead(status, headers);
  res.end(body);
}

function jsonError(core: Core, res: ServerResponse, status: number, body: Buffer, extra: string[] = []): void {
  respond(res, status, ['Content-Type', JSON_TYPE, 'Cache-Control', 'no-store', ...extra, ...core.shared], body);
}

const TIMEOUT_BODY = errorBody('timeout', 'no message came within the hold timeout; ask again from the same position');
const GONE_BODY = errorBody('gone', 'the channel was deleted');
const SHUTDOWN_BODY = errorBody('shutting_down', 'the server is shutting down; retry shortly');

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A long-poll's deadline passed: tell it where to come back from. */
export function answerTimeout(core: Core, hold: Hold): void {
  const { res, position } = hold;
  if (gone(res)) return;
  if (hold.mode === 'seed' && hold.reloadUrl !== undefined) {
    const url = `${hold.reloadUrl}${hold.reloadUrl.includes('?') ? '&' : '?'}last_event_id=${encodeURIComponent(position)}`;
    const page = `<!doctype html><html lang="en"><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escapeHtml(url)}"><title>Waiting for a message</title><p>Waiting for a message&hellip;</p></html>`;
    respond(res, 200, ['Content-Type', 'text/html; charset=utf-8', 'Cache-Control', 'no-store', 'Etag', position, ...core.shared], page);
    return;
  }
  switch (hold.mode) {
    case 'seed':
    case 'batch':
      respond(res, 204, ['Etag', position, 'Cache-Control', 'no-store', ...core.shared]);
      return;
    case 'poll': {
      const extra = ['Etag', position];
      if (hold.ifModifiedSince !== undefined) extra.push('Last-Modified', hold.ifModifiedSince);
      jsonError(core, res, 408, TIMEOUT_BODY, extra);
      return;
    }
    case 'stream':
      return;
  }
}

/** The channel was deleted: long-polls get 410, streams a `:410 Gone` comment and the end. */
export function answerGone(core: Core, hold: Hold): void {
  if (gone(hold.res)) return;
  if (hold.mode === 'stream') hold.res.end(':410 Gone\n\n');
  else jsonError(core, hold.res, 410, GONE_BODY);
}

/** Shutdown: long-polls get 503 with `Retry-After: 1`, streams end (their clients reconnect). */
export function answerShutdown(core: Core, hold: Pick<Hold, 'res' | 'mode'>): void {
  if (gone(hold.res)) return;
  if (hold.mode === 'stream') hold.res.end(':503 shutting down\n\n');
  else jsonError(core, hold.res, 503, SHUTDOWN_BODY, ['Retry-After', '1', 'Connection', 'close']);
}

// A subscriber's first read: answered at once when messages are waiting, else handed to the registry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from './core';
import { writeMessage } from './broadcast';
import { answerShutdown } from './endings';
import { gone, startAnswer } from './http/answer';
import type { Hold, HoldMode } from './registry';
import type { ImmediateReads, ReadResult, StoredMessage } from './stores/store';

/** Messages one batch answer carries at most. */
const BATCH_LIMIT = 1000;
/** Messages read at a time while a stream replays. */
const REPLAY_PAGE = 1000;
/** What a replay holds while its reader catches up: nothing. */
const NOTHING_READ: ReadResult = { messages: [], gap: false, head: '', more: true };

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
  if (result.messages.length > 0) answerNow(core, res, sub, result, result.gap);
  else hold(core, req, res, sub, after, result, false);
}

/**
 * Answers a subscriber: at once when messages after its position are held, else holds it
 * (a stream first replays what it missed).
 */
export async function subscribe(core: Core, req: IncomingMessage, res: ServerResponse, sub: Subscription): Promise<void> {
  const { store } = core;
  const after = sub.position ?? (sub.newest ? await store.head() : null);
  const limit = readLimit(sub.mode);
  let result = await store.read(sub.channels, after, limit);
  if (gone(res)) return;
  if (sub.mode !== 'stream' && result.messages.length > 0) {
    answerNow(core, res, sub, result, result.gap);
    return;
  }
  if (sub.mode === 'stream') {
    openStream(core, res, result.gap, sub.sent, result);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // The backlog goes at the pace the reader takes it (docs/protocol.md, "Memory"): it never
    // waits here unsent, and no page of it is kept while the reader catches up, since those
    // messages may leave the buffer meanwhile. Then the next read starts after the last message
    // written; should it find messages gone, the stream ends and its client, coming back with
    // its position, is told of the gap as a stream is at its start.
    let position = after;
    for (;;) {
      let full = false;
      for (const message of result.messages) {
        if (res.writableNeedDrain) {
          full = true;
          break;
        }
        res.write(core.encoded(message).sse.text);
        core.pending.wrote(res, true);
        position = message.token;
      }
      core.pending.settle();
      if (!full && !result.more) break;
      if (full) {
        result = NOTHING_READ;
        if (!(await core.pending.drained(res))) return;
      }
      result = await store.read(sub.channels, position, limit);
      if (gone(res)) return;
      if (result.gap) {
        res.end();
        return;
      }
    }
  }
  const held = hold(core, req, res, sub, after, result, !core.wakesInStep);
  if (held !== undefined) await confirm(core, res, sub, held, limit);
}

/**
 * The race of a store that wakes this process over the network: a wake-up may come while a
 * read is on its way, before the hold exists. Such a hold starts `pending` (a wake-up only
 * marks it `raced`, lib/registry.ts) and reads again until one read saw everything, so no
 * message falls in between.
 */
async function confirm(core: Core, res: ServerResponse, sub: Subscription, held: Hold, limit: number): Promise<void> {
  const { store, registry } = core;
  while (held.pending) {
    registry.confirming(held);
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
      answerNow(core, res, sub, again, held.gap || again.gap);
      return;
    }
    for (const message of again.messages) res.write(core.encoded(message).sse.text);
    core.pending.wrote(res, true);
    registry.confirmed(held, again.head, again.more);
  }
}

/** Hands a subscriber that has nothing to read yet to the registry (or answers 503 in a shutdown). */
function hold(core: Core, req: IncomingMessage, res: ServerResponse, sub: Subscription, after: string | null, result: ReadResult, pending: boolean): Hold | undefined {
  if (core.closing()) {
    answerShutdown(core.shared, { res, mode: sub.mode });
    return undefined;
  }
  const stream = sub.mode === 'stream';
  return core.registry.add({
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
  });
}

function answerNow(core: Core, res: ServerResponse, sub: Subscription, result: ReadResult, gap: boolean): void {
  if (sub.mode !== 'batch') writeMessage(res, core.encoded(result.messages[0] as StoredMessage), sub.mode, gap, core.options.fastWire);
  else core.batchAnswer(sub.channels, result.messages, gap).writeTo(res, core.options.fastWire);
  core.pending.wrote(res, false);
  core.pending.settle();
}

function openStream(core: Core, res: ServerResponse, gap: boolean, sent: string | null, first: ReadResult): void {
  startAnswer(res, 200, [
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

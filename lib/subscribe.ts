// The subscriber face (docs/protocol.md, "Subscribing"): `/sub/<channels>` as long-poll, stream or batch.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Verdict } from './auth/authorize';
import type { Core } from './core';
import { echo } from './errors';
import { type Subscription, subscribe, subscribeNow } from './hold';
import { firstAccepted } from './http/accept';
import { gone } from './http/answer';
import type { Query } from './http/router';
import { parseChannelList, parsePosition } from './names';
import type { HoldMode } from './registry';

export type PositionResult = { ok: true; token: string | null; sent: string | null } | { ok: false; sent: string };

/**
 * The first position named, in the order of docs/protocol.md ("Positions and gaps"); a
 * malformed one is an error, not ignored.
 */
export function readPosition(req: IncomingMessage, query: Query): PositionResult {
  const { headers } = req;
  // In that order, each read only when the ones before it are absent (no list made per request).
  return positionFrom(headers['if-none-match']) ?? positionFrom(headers['last-event-id']) ?? positionFrom(query.get('last_event_id')) ?? positionFrom(headers.etag) ?? NO_POSITION;
}

const NO_POSITION: PositionResult = { ok: true, token: null, sent: null };

/** A candidate's position, or undefined when it is absent or blank. */
function positionFrom(candidate: string | string[] | null | undefined): PositionResult | undefined {
  if (typeof candidate !== 'string' || candidate.trim() === '') return undefined;
  const parsed = parsePosition(candidate);
  return parsed.ok ? { ok: true, token: parsed.token, sent: candidate } : { ok: false, sent: candidate };
}

/** The types whose naming in `Accept` picks a stream or a batch (else Nchan's long-poll), in that order. */
const MODE_TYPES = ['text/event-stream', 'application/json'] as const;

/** `GET /sub/<channels>`: the `Accept` header picks stream, batch or Nchan's long-poll. */
export function handleSub(core: Core, req: IncomingMessage, res: ServerResponse, param: string, query: Query): void {
  const channels = parseChannelList(param);
  if (channels === null) {
    core.error(res, 400, 'bad_channel', `not a channel list: ${echo(param)} (up to 16 names of A-Z a-z 0-9 _ - . @ ~, comma-separated)`);
    return;
  }
  const type = firstAccepted(req, MODE_TYPES);
  const mode: HoldMode = type === 'text/event-stream' ? 'stream' : type === 'application/json' ? 'batch' : 'poll';
  admitSubscriber(core, req, res, channels, query, () => startSubscription(core, req, res, channels, mode, query, core.options.firstMessage === 'newest'));
}

/**
 * Calls `start` once the request may read `names` (the JWT, then the app when it is asked);
 * a refused subscriber is answered and never held.
 */
export function admitSubscriber(core: Core, req: IncomingMessage, res: ServerResponse, names: readonly string[], query: Query, start: () => void): void {
  const verdict = core.gate.subscribe(req, names, query.get('token'));
  if (!(verdict instanceof Promise)) {
    admitted(core, res, verdict, start);
    return;
  }
  verdict
    .then((later) => {
      // The client may have left while the app was asked: nothing to hold then.
      if (!gone(res)) admitted(core, res, later, start);
    })
    .catch((failure: unknown) => core.fail(res, failure));
}

function admitted(core: Core, res: ServerResponse, verdict: Verdict, start: () => void): void {
  if (verdict === null) start();
  else core.error(res, verdict.status, verdict.code, verdict.message, verdict.headers);
}

/** Checks the position and the limits, then reads or holds (the seed face starts here too). */
export function startSubscription(core: Core, req: IncomingMessage, res: ServerResponse, channels: readonly string[], mode: HoldMode, query: Query, newest: boolean, reloadUrl?: string): void {
  const { options, store, immediate } = core;
  const position = readPosition(req, query);
  if (!position.ok) {
    core.error(res, 400, 'bad_position', `not a position: ${echo(position.sent)} (a message id "<seconds>:<token>" or a token)`);
    return;
  }
  if (core.registry.size >= options.maxSubscribers) {
    core.error(res, 503, 'too_many_subscribers', `this server holds its limit of ${options.maxSubscribers} subscribers (--max-subscribers)`, ['Retry-After', '2']);
    return;
  }
  const sub: Subscription = { channels, mode, position: position.token, sent: position.sent, newest, reloadUrl };
  const tooManyChannels = (): void => {
    core.error(res, 503, 'too_many_channels', `this server holds its limit of ${options.maxChannels} channels (--max-channels)`, ['Retry-After', '2']);
  };
  if (immediate !== undefined && mode !== 'stream') {
    if (immediate.touch(channels)) subscribeNow(core, req, res, sub, immediate);
    else tooManyChannels();
    return;
  }
  store
    .touch(channels)
    .then((ok) => (ok ? subscribe(core, req, res, sub) : tooManyChannels()))
    .catch((failure: unknown) => core.fail(res, failure));
}

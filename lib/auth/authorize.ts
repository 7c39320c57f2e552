// Who may subscribe and publish: holdpush's own rights combined with the app's say (docs/authorization.md).
import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors';
import type { HeaderPairs } from '../http/answer';
import { type Refusal, type Rights, bearerToken, digest, refusalHeaders, sameSecret } from '../rights';
import type { AppAnswer } from './answer';
import { type AppAsker, createAppAsker } from './ask-app';
import { askHook } from './ask-hook';
import { createDecisionCache } from './decision-cache';
import { readFacts } from './facts';
import type { AuthSettings } from './settings';
import type { AuthFacts, AuthOp, Authorize } from './types';

/** Decisions of the app kept at most (per process); past it the oldest go first. */
export const MAX_CACHED_DECISIONS = 10_000;
/** Characters of cache keys (op, method, channels, Cookie, Authorization) kept at most, all together. */
export const MAX_CACHED_KEY_CHARS = 16 * 1024 * 1024;
/** What a client is told to wait before it asks again when the app could not decide. */
const RETRY_AFTER = 2;
/** Longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How a request is refused: status, JSON error and the headers that go with it. */
export interface Denial {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly headers: HeaderPairs;
}

/** null: allowed. */
export type Verdict = Denial | null;

export interface AuthCounts {
  /** Questions the app answered with an allow, a denial, or not at all (counted when asked, not when cached). */
  readonly allow: number;
  readonly deny: number;
  readonly error: number;
  /** Decisions given without asking: kept ones, and questions shared with one on its way. */
  readonly cacheHits: number;
}

export interface Gate {
  /** Whether `names` may be read: the subscriber JWT, then the app. */
  subscribe(req: IncomingMessage, names: readonly string[], queryToken: string | null): Verdict | Promise<Verdict>;
  /**
   * Whether the request may publish to `names` (`/pub/<ch>`: the channel; `/send`: `uid:<uid>`
   * or `uid:*`). `channel` is what a subscriber JWT's publish grant is checked against (null
   * for `/send`), `formToken` the send form's `token` field.
   */
  publish(req: IncomingMessage, channel: string | null, names: readonly string[], formToken?: string): Verdict | Promise<Verdict>;
  counts(): AuthCounts;
  /** Closes the connections kept to the app. */
  close(): void;
}

export interface GateSettings {
  readonly options: AuthSettings & { readonly publishToken: string | undefined };
  readonly rights: Rights;
  /** The client address told to the app (`X-Forwarded-For`). */
  readonly clientAddress: (req: IncomingMessage) => string | undefined;
  /** Whether the instance is shutting down (a decision that arrives then is not acted on). */
  readonly closing: () => boolean;
  /** Where a broken `authorize` is reported. */
  readonly log: (error: unknown) => void;
}

/** One way of asking the app: over HTTP (cached), or its in-process hook. */
type Ask = (req: IncomingMessage, facts: AuthFacts) => Verdict | Promise<Verdict>;

const NO_HEADERS: HeaderPairs = [];
const SHUTTING_DOWN: Denial = { status: 503, code: 'shutting_down', message: 'the server is shutting down; retry shortly', headers: ['Retry-After', '1'] };
const UNAVAILABLE_HEADERS: HeaderPairs = ['Retry-After', String(RETRY_AFTER)];

function denialOf(refusal: Refusal): Denial {
  return { ...refusal, headers: refusalHeaders(refusal) };
}

function verdictOf(answer: AppAnswer, op: AuthOp): Verdict {
  switch (answer.kind) {
    case 'allow':
      return null;
    case 'deny':
      return {
        status: answer.status,
        code: answer.status === 401 ? 'unauthorized' : 'forbidden',
        message: answer.message ?? `the app does not allow this ${op === 'subscribe' ? 'subscription' : 'publish'} (it answered ${answer.status})`,
        headers: answer.challenge === undefined ? NO_HEADERS : ['WWW-Authenticate', answer.challenge],
      };
    case 'failure':
      return { status: 503, code: 'auth_unavailable', message: `the app that authorizes requests ${answer.reason}; retry shortly`, headers: UNAVAILABLE_HEADERS };
  }
}

/**
 * Decides who may subscribe and publish. Without `authUrl` or `authorize` this is holdpush's
 * own rights (`publishToken`, `publishAllow`, `subscribeSecret`). With one of them the app
 * decides every publish that carries no valid publish token, and every subscription that the
 * subscriber JWT (when `subscribeSecret` is set) allowed first. Answers over HTTP are kept
 * per (op, method, channels, Cookie, Authorization); the in-process hook is asked every time.
 */
export function createGate(settings: GateSettings): Gate {
  const { options, rights, clientAddress, closing, log } = settings;
  const timeoutMs = Math.min(options.authTimeout * 1000, MAX_TIMER_MS);
  const asker = options.authUrl === undefined ? undefined : createAppAsker(new URL(options.authUrl), timeoutMs);
  const cache = createDecisionCache<Verdict>({ maxEntries: MAX_CACHED_DECISIONS, maxKeyChars: MAX_CACHED_KEY_CHARS });
  const publishDigest = options.publishToken === undefined ? undefined : digest(options.publishToken);
  const tally = { allow: 0, deny: 0, error: 0 };

  function count(answer: AppAnswer): AppAnswer {
    tally[answer.kind === 'failure' ? 'error' : answer.kind] += 1;
    return answer;
  }

  /** A decision that came after a wait: the instance may have started to shut down meanwhile. */
  function afterWait(verdict: Verdict): Verdict {
    return closing() ? SHUTTING_DOWN : verdict;
  }

  function throughHook(authorize: Authorize): Ask {
    return (req, facts) => askHook(authorize, { ...facts, req }, timeoutMs, log).then((answer) => afterWait(verdictOf(count(answer), facts.op)));
  }

  function throughUrl(app: AppAsker): Ask {
    return (_req, facts) => {
      // Built once per request; a re-poll within the cache time costs this and one Map lookup.
      const key = `${facts.op}\n${facts.method}\n${facts.channels.join(',')}\n${facts.cookie ?? ''}\n${facts.authorization ?? ''}`;
      const decided = cache.decide(key, () =>
        app.ask(facts).then((answer) => ({
          value: verdictOf(count(answer), facts.op),
          seconds: answer.kind === 'failure' || options.authCache === 0 ? 0 : (answer.seconds ?? options.authCache),
        })),
      );
      return decided instanceof Promise ? decided.then(afterWait) : decided;
    };
  }

  const ask = options.authorize !== undefined ? throughHook(options.authorize) : asker !== undefined ? throughUrl(asker) : undefined;

  /** The app's say, once what it would be told has passed the checks at the edge. */
  function askApp(how: Ask, req: IncomingMessage, op: AuthOp, names: readonly string[]): Verdict | Promise<Verdict> {
    const read = readFacts(req, op, names, clientAddress(req));
    if (!read.ok) return { status: read.status, code: read.code, message: read.message, headers: NO_HEADERS };
    return how(req, read.facts);
  }

  return {
    subscribe(req, names, queryToken) {
      const refusal = rights.subscribe(req, names, queryToken);
      if (refusal !== null) return denialOf(refusal);
      return ask === undefined ? null : askApp(ask, req, 'subscribe', names);
    },
    publish(req, channel, names, formToken) {
      if (ask === undefined) {
        const refusal = rights.publish(req, channel, formToken);
        return refusal === null ? null : denialOf(refusal);
      }
      // Server-to-server publishing with the token is settled here; everything else is the app's say.
      if (publishDigest !== undefined) {
        const token = bearerToken(req) ?? formToken;
        if (token !== undefined && token !== '' && sameSecret(token, publishDigest)) return null;
      }
      return askApp(ask, req, 'publish', names);
    },
    counts: () => ({ ...tally, cacheHits: cache.hits }),
    close() {
      asker?.close();
    },
  };
}

// Asking the app over HTTP (`--auth-url`): one GET on kept-alive connections, within a timeout.
import { Agent as HttpAgent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type AppAnswer, HEADER_VALUE, MAX_CHALLENGE, failure } from './answer';
import type { AuthFacts } from './types';

/**
 * Connections kept to the app: enough that a burst of different questions does not queue
 * behind one another for long, few enough that holdpush cannot flood the app. Questions past
 * it wait in the agent's queue, inside their timeout.
 */
const MAX_SOCKETS = 128;
const MAX_FREE_SOCKETS = 32;
/** Body bytes of an answer read and dropped; past it the connection is closed instead. */
const MAX_BODY = 64 * 1024;
/** Longest `max-age` honoured (RFC 9111: a larger one counts as this). */
const MAX_AGE_LIMIT = 2147483648;

export interface AppAsker {
  /** Asks the app; never rejects, and settles within the timeout. */
  ask(facts: AuthFacts): Promise<AppAnswer>;
  /** Closes the kept connections; questions on their way fail. */
  close(): void;
}

/**
 * Seconds the app lets its answer be reused: 0 for `no-store` or `no-cache`, N for
 * `max-age=N`, undefined when it says neither (the configured time applies).
 */
export function cacheSeconds(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  let seconds: number | undefined;
  for (const part of header.split(',')) {
    const directive = part.trim().toLowerCase();
    if (directive === 'no-store' || directive === 'no-cache') return 0;
    const maxAge = /^max-age[ \t]*=[ \t]*"?(\d+)"?$/.exec(directive);
    if (maxAge !== null) seconds = Math.min(Number(maxAge[1]), MAX_AGE_LIMIT);
  }
  return seconds;
}

/** The headers of docs/authorization.md, and no others of the client's. */
export function questionHeaders(facts: AuthFacts): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'X-Holdpush-Op': facts.op,
    'X-Holdpush-Channels': facts.channels.join(','),
    'X-Original-URI': facts.uri,
    'X-Original-Method': facts.method,
  };
  if (facts.cookie !== undefined) headers.Cookie = facts.cookie;
  if (facts.authorization !== undefined) headers.Authorization = facts.authorization;
  if (facts.userAgent !== undefined) headers['User-Agent'] = facts.userAgent;
  if (facts.clientAddress !== undefined) headers['X-Forwarded-For'] = facts.clientAddress;
  return headers;
}

function answerOf(status: number, headers: IncomingHttpHeaders): AppAnswer {
  if (status >= 200 && status < 300) return { kind: 'allow', seconds: cacheSeconds(headers['cache-control']) };
  if (status !== 401 && status !== 403) return failure(`answered ${status}`);
  const challenge = headers['www-authenticate'];
  if (challenge !== undefined && (challenge.length > MAX_CHALLENGE || !HEADER_VALUE.test(challenge))) {
    return failure(`answered ${status} with a WWW-Authenticate over ${MAX_CHALLENGE} characters`);
  }
  return { kind: 'deny', status, message: undefined, challenge, seconds: cacheSeconds(headers['cache-control']) };
}

/**
 * Asks `url` with `GET` over kept-alive connections. The timeout covers everything: a place
 * in the agent's queue, connecting, the status line and the whole body (a slow body is no
 * answer). A kept connection that the app closed just as it was reused is tried once more.
 */
export function createAppAsker(url: URL, timeoutMs: number): AppAsker {
  const secure = url.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' as const };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const seconds = timeoutMs / 1000;

  function ask(facts: AuthFacts): Promise<AppAnswer> {
    const headers = questionHeaders(facts);
    return new Promise((resolve) => {
      let settled = false;
      let current: ClientRequest | undefined;
      let responded = false;
      const timer = setTimeout(() => finish(failure(`did not answer within ${seconds} s (--auth-timeout)`), true), timeoutMs);

      function finish(answer: AppAnswer, cut: boolean): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (cut) current?.destroy();
        resolve(answer);
      }

      function onResponse(res: IncomingMessage): void {
        responded = true;
        const status = res.statusCode ?? 0;
        let size = 0;
        res.on('error', () => finish(failure('cut its answer short'), true));
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY) finish(answerOf(status, res.headers), true);
        });
        res.on('end', () => finish(answerOf(status, res.headers), false));
        res.on('close', () => {
          if (!res.complete) finish(failure('cut its answer short'), true);
        });
      }

      function attempt(again: boolean): void {
        let req: ClientRequest;
        try {
          req = send(url, { method: 'GET', agent, headers }, onResponse);
        } catch (error) {
          finish(failure(`could not be asked (${(error as Error).message})`), false);
          return;
        }
        current = req;
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (settled || req !== current) return;
          if (again && !responded && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
            attempt(false);
            return;
          }
          finish(failure(`could not be reached (${error.code ?? error.message})`), true);
        });
        req.end();
      }

      attempt(true);
    });
  }

  return {
    ask,
    close: () => agent.destroy(),
  };
}

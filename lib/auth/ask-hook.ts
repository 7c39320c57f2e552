// Asking the app in process (the `authorize` option), within a timeout.
import { echo } from '../errors';
import { type AppAnswer, HEADER_VALUE, MAX_CHALLENGE, failure } from './answer';
import type { Authorize, AuthorizeRequest } from './types';

/** Longest refusal message of the app's that reaches a client. */
const MAX_MESSAGE = 200;

/** The app's result as an answer; undefined for a result of another shape (a bug in the app, not a decision). */
function answerOf(result: unknown): AppAnswer | undefined {
  if (result === true) return { kind: 'allow', seconds: undefined };
  if (typeof result === 'object' && result !== null) {
    const { status, message, wwwAuthenticate } = result as { status?: unknown; message?: unknown; wwwAuthenticate?: unknown };
    const challengeOk = wwwAuthenticate === undefined || (typeof wwwAuthenticate === 'string' && wwwAuthenticate.length <= MAX_CHALLENGE && HEADER_VALUE.test(wwwAuthenticate));
    if ((status === 401 || status === 403) && typeof message === 'string' && challengeOk) {
      const words = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
      return { kind: 'deny', status, message: words, challenge: wwwAuthenticate as string | undefined, seconds: undefined };
    }
  }
  return undefined;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Calls the embedder's `authorize`; never rejects, and settles within `timeoutMs`. A throw or
 * rejection is reported to `log` (it is a bug in the app) and answers as a failure.
 */
export function askHook(authorize: Authorize, request: AuthorizeRequest, timeoutMs: number, log: (error: unknown) => void): Promise<AppAnswer> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(failure(`did not answer within ${timeoutMs / 1000} s (authTimeout)`)), timeoutMs);
    function settle(answer: AppAnswer): void {
      clearTimeout(timer);
      resolve(answer);
    }
    function broke(error: unknown): void {
      log(error);
      settle(failure('failed (see the server log)'));
    }
    try {
      Promise.resolve(authorize(request)).then((result) => {
        const answer = answerOf(result);
        if (answer !== undefined) settle(answer);
        else broke(new TypeError(`authorize returned ${echo(describe(result))}, not true or { status: 401 | 403, message }`));
      }, broke);
    } catch (error) {
      broke(error);
    }
  });
}

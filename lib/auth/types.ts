// The public types of the authorize option: what the app is asked, and what it may answer (docs/authorization.md).
import type { IncomingMessage } from 'node:http';

/** `subscribe`: `/sub/*` in every mode and `/?uid=`; `publish`: `/send` and every method on `/pub/*`. */
export type AuthOp = 'subscribe' | 'publish';

/** The facts of a request that `--auth-url` sends the app as headers, checked as header values. */
export interface AuthFacts {
  readonly op: AuthOp;
  /** Channels by name; the demo face's uids as `uid:<uid>`; a `/send` to every uid as `uid:*`. */
  readonly channels: readonly string[];
  /** The request's `Cookie`; undefined when it sent none (or an empty one). */
  readonly cookie: string | undefined;
  /** The request's `Authorization`; undefined when it sent none. */
  readonly authorization: string | undefined;
  /** The request's `User-Agent`; undefined when it sent none. */
  readonly userAgent: string | undefined;
  /** Path and query of the request, as it arrived (a mount prefix included). */
  readonly uri: string;
  /** `GET`, `HEAD`, `POST`, `PUT` or `DELETE`. */
  readonly method: string;
  /** The client's address; undefined when it is unknown (the connection has gone). */
  readonly clientAddress: string | undefined;
}

/** What an embedder's `authorize` function is given: the same facts, and the request itself. */
export interface AuthorizeRequest extends AuthFacts {
  /** The request as your server handed it to holdpush (with what your middleware set on it, such as `req.session`). */
  readonly req: IncomingMessage;
}

/** A refusal: the status the client gets (as a JSON error) and the words it carries. */
export interface AuthorizeRefusal {
  readonly status: 401 | 403;
  /** At most 200 characters reach the client. */
  readonly message: string;
  /** Sent with a `401` as `WWW-Authenticate` (one line of printable text, at most 1024 characters). */
  readonly wwwAuthenticate?: string;
}

/** `true` allows the request; a refusal refuses it. */
export type AuthorizeResult = true | AuthorizeRefusal;

/**
 * Decides in process what `--auth-url` would ask the app over HTTP. Called before every
 * subscription and every publish that holdpush itself does not settle (a valid
 * `publishToken` settles a publish). A throw, a rejection, any other result or no answer
 * within `authTimeout` seconds answers the client `503` with `Retry-After`.
 */
export type Authorize = (request: AuthorizeRequest) => AuthorizeResult | Promise<AuthorizeResult>;

// What the app answered a question (over HTTP, or through its in-process `authorize`).

/** An allow or a denial (each with how long it may be kept), or no decision at all. */
export type AppAnswer =
  | { readonly kind: 'allow'; readonly seconds: number | undefined }
  | {
      readonly kind: 'deny';
      readonly status: 401 | 403;
      /** The app's own words (the in-process hook's); undefined for an answer over HTTP. */
      readonly message: string | undefined;
      /** Its `WWW-Authenticate`, replayed with a `401`. */
      readonly challenge: string | undefined;
      readonly seconds: number | undefined;
    }
  /** No decision: unreachable, too slow, another status, a broken answer. Never kept. */
  | { readonly kind: 'failure'; readonly reason: string };

/** One line of visible text, as node:http accepts in a header value. */
export const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Longest `WWW-Authenticate` replayed to a client (and kept with a cached denial). */
export const MAX_CHALLENGE = 1024;

export function failure(reason: string): AppAnswer {
  return { kind: 'failure', reason };
}

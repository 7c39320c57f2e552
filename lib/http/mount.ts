// Takes a request below the mount prefix to its route: the prefix redirect, preflights, 405, the decoded parameter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, echo } from '../errors';
import { type HeaderPairs, answer } from './answer';
import type { Logger } from './log';
import { RequestQuery } from './query';
import type { Query, Router } from './router';

const NO_QUERY: Query = new URLSearchParams();

/** Headers a subscriber may send cross-origin (docs/protocol.md, "CORS": `Etag` for NchanSubscriber.js). */
const ALLOW_HEADERS = 'If-None-Match, If-Modified-Since, Etag, Last-Event-ID, Content-Type, Cache-Control, Authorization, X-EventSource-Event';

export interface MountOptions {
  /** Where holdpush is mounted ('' for the root). */
  readonly prefix: string;
  readonly router: Router;
  /** CORS header pairs of every answer. */
  readonly shared: HeaderPairs;
  readonly logger: Logger;
  /** True once shutdown began: every route answers 503. */
  closing(): boolean;
  error(res: ServerResponse, status: number, code: ErrorCode, message: string, headers?: HeaderPairs): void;
  /** Answers a handler that threw. */
  fail(res: ServerResponse, failure: unknown): void;
}

/** The request's path below the mount, or undefined when it is not below it. */
function below(prefix: string, path: string): string | undefined {
  if (prefix === '') return path;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
}

/** `handle`: answers the request and returns true, or returns false, touching nothing, when no route has it. */
export function createMount(options: MountOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { prefix, router, shared, logger, error } = options;
  return (req, res) => {
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    const full = mark < 0 ? url : url.slice(0, mark);
    const path = below(prefix, full);
    if (path === undefined) return false;
    const method = req.method ?? 'GET';
    // The pages link to their files relatively (app.css, holdpush.js, send): at "/push" those
    // would resolve under "/", outside the mount. Send the page's visitors to "/push/".
    if (prefix !== '' && full === prefix && (method === 'GET' || method === 'HEAD') && !new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1)).get('uid')) {
      logger.request(req, res);
      answer(res, 308, ['Location', `${prefix}/${mark < 0 ? '' : url.slice(mark)}`, 'Cache-Control', 'no-store'], '');
      return true;
    }
    if (method === 'OPTIONS') {
      const allow = router.allow(path);
      if (allow === '') return false;
      logger.request(req, res);
      answer(res, 204, ['Allow', allow, 'Access-Control-Allow-Methods', allow, 'Access-Control-Allow-Headers', ALLOW_HEADERS, 'Access-Control-Max-Age', '600', ...shared]);
      return true;
    }
    const match = router.find(method, path);
    if (match.kind === 'none') return false;
    logger.request(req, res);
    if (options.closing()) {
      error(res, 503, 'shutting_down', 'the server is shutting down; retry shortly', ['Retry-After', '1', 'Connection', 'close']);
      return true;
    }
    if (match.kind === 'method') {
      error(res, 405, 'method_not_allowed', `${echo(method)} is not allowed here`, ['Allow', match.allow]);
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
    try {
      match.handler(req, res, { param, query: mark < 0 ? NO_QUERY : new RequestQuery(url.slice(mark + 1)) });
    } catch (failure) {
      options.fail(res, failure);
    }
    return true;
  };
}

// The routes: method and path to a handler, with 405 and its Allow for a path that has other methods.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a handler learns of its request: the routed parameter and the query. */
export interface RouteContext {
  /** For a prefix route (`/pub/`), the rest of the path, decoded; '' for exact routes. */
  readonly param: string;
  readonly query: Query;
}

/** A request's query, read-only: requests without one share a single empty instance. */
export type Query = Pick<URLSearchParams, 'get' | 'toString'>;

export type Handler = (req: IncomingMessage, res: ServerResponse, context: RouteContext) => void;

export type Match =
  | { kind: 'handler'; handler: Handler; param: string }
  | { kind: 'method'; allow: string }
  | { kind: 'none' };

interface Route {
  readonly path: string;
  readonly methods: Map<string, Handler>;
}

export interface Router {
  /** Adds a route: an exact path, or a prefix when it ends with '/' (e.g. '/pub/'). */
  on(methods: string | readonly string[], path: string, handler: Handler): Router;
  find(method: string, path: string): Match;
  /** The methods a path answers (for `Allow` on preflights); '' when no route has it. */
  allow(path: string): string;
}

/** Method + path -> handler, with `405` and its `Allow` when the path exists for other methods. */
export function createRouter(): Router {
  const exact = new Map<string, Route>();
  const prefixes: Route[] = [];

  function routeOf(path: string): { route: Route; param: string } | undefined {
    const hit = exact.get(path);
    if (hit !== undefined) return { route: hit, param: '' };
    for (const route of prefixes) {
      if (path.startsWith(route.path)) return { route, param: path.slice(route.path.length) };
    }
    return undefined;
  }

  function allowOf(route: Route): string {
    return [...route.methods.keys(), 'OPTIONS'].join(', ');
  }

  const router: Router = {
    on(methods, path, handler) {
      const prefix = path.endsWith('/') && path.length > 1;
      let route = prefix ? prefixes.find((r) => r.path === path) : exact.get(path);
      if (route === undefined) {
        route = { path, methods: new Map() };
        if (prefix) prefixes.push(route);
        else exact.set(path, route);
      }
      for (const method of typeof methods === 'string' ? [methods] : methods) route.methods.set(method, handler);
      return router;
    },
    find(method, path) {
      const found = routeOf(path);
      if (found === undefined) return { kind: 'none' };
      const handler = found.route.methods.get(method) ?? (method === 'HEAD' ? found.route.methods.get('GET') : undefined);
      if (handler === undefined) return { kind: 'method', allow: allowOf(found.route) };
      return { kind: 'handler', handler, param: found.param };
    },
    allow(path) {
      const found = routeOf(path);
      return found === undefined ? '' : allowOf(found.route);
    },
  };
  return router;
}

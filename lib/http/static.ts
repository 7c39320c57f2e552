// The pages and the browser client: the files of public/, read at start, with Etag revalidation.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { type HeaderPairs, JSON_TYPE, answer, answerError } from './answer';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': JSON_TYPE,
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export interface StaticFiles {
  /** Whether `name` (a path below the mount, like '/send.html') is one of the files. */
  has(name: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, name: string, headers: HeaderPairs): void;
}

/**
 * The pages and the browser client in `dir`: only the regular files found there at start
 * are served, so nothing else on disk can be reached, whatever the path says.
 */
export function createStaticFiles(dir: string): StaticFiles {
  const root = normalize(dir) + sep;
  const names = new Set<string>();
  try {
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      if (entry.isFile() && !entry.name.startsWith('.')) names.add(`/${entry.name}`);
    }
  } catch {
    // No public folder (an embedder may ship without it): no pages.
  }
  const cache = new Map<string, StaticFile>();

  function load(name: string): StaticFile | undefined {
    const path = normalize(join(root, name));
    if (!path.startsWith(root)) return undefined;
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile()) return undefined;
    const etag = `"${stat.size.toString(36)}-${Math.floor(stat.mtimeMs).toString(36)}"`;
    const known = cache.get(name);
    if (known !== undefined && known.etag === etag) return known;
    const file = { body: readFileSync(path), type: TYPES[extname(path)] ?? 'application/octet-stream', etag };
    cache.set(name, file);
    return file;
  }

  return {
    has: (name) => names.has(name),
    serve(req, res, name, headers) {
      let file: StaticFile | undefined;
      try {
        file = load(name);
      } catch {
        file = undefined;
      }
      if (file === undefined) {
        answerError(res, 404, 'not_found', 'no such file', headers);
        return;
      }
      const common = ['Etag', file.etag, 'Cache-Control', 'no-cache', 'X-Content-Type-Options', 'nosniff', ...headers];
      if (req.headers['if-none-match'] === file.etag) {
        answer(res, 304, common);
        return;
      }
      // node:http sends no body to a HEAD, but its Content-Length is the file's.
      answer(res, 200, ['Content-Type', file.type, ...common], file.body);
    },
  };
}

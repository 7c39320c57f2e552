// The answers a held subscriber gets without a message: its timeout, its channel deleted, a shutdown.
import { type HeaderPairs, answer, answerError, gone } from './http/answer';
import type { Hold } from './registry';
import { reloadPage } from './seed';

/** A long-poll's deadline passed: tell it where to come back from (docs/protocol.md, "Positions and gaps"). */
export function answerTimeout(shared: HeaderPairs, hold: Hold): void {
  const { res, position } = hold;
  if (gone(res)) return;
  if (hold.mode === 'seed' && hold.reloadUrl !== undefined) {
    answer(res, 200, ['Content-Type', 'text/html; charset=utf-8', 'Cache-Control', 'no-store', 'Etag', position, ...shared], reloadPage(hold.reloadUrl, position));
    return;
  }
  switch (hold.mode) {
    case 'seed':
    case 'batch':
      answer(res, 204, ['Etag', position, 'Cache-Control', 'no-store', ...shared]);
      return;
    case 'poll': {
      const extra = ['Etag', position];
      if (hold.ifModifiedSince !== undefined) extra.push('Last-Modified', hold.ifModifiedSince);
      answerError(res, 408, 'timeout', 'no message came within the hold timeout; ask again from the same position', [...extra, ...shared]);
      return;
    }
    case 'stream':
      return;
  }
}

/** The channel was deleted: long-polls get 410, streams a `:410 Gone` comment and the end. */
export function answerGone(shared: HeaderPairs, hold: Hold): void {
  if (gone(hold.res)) return;
  if (hold.mode === 'stream') hold.res.end(':410 Gone\n\n');
  else answerError(hold.res, 410, 'gone', 'the channel was deleted', shared);
}

/** Shutdown: long-polls get 503 with `Retry-After: 1`, streams end (their clients reconnect). */
export function answerShutdown(shared: HeaderPairs, hold: Pick<Hold, 'res' | 'mode'>): void {
  if (gone(hold.res)) return;
  if (hold.mode === 'stream') hold.res.end(':503 shutting down\n\n');
  else answerError(hold.res, 503, 'shutting_down', 'the server is shutting down; retry shortly', ['Retry-After', '1', 'Connection', 'close', ...shared]);
}

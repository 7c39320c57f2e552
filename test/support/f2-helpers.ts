import type { TestContext } from 'node:test';
import type { CreateHoldpushOptions } from '../../lib/index';
import { type Reply, type RequestOptions, type Running, request, requestRaw, startServer } from './http';

/** A server for one test, closed when the test ends. */
export async function serve(t: TestContext, options: CreateHoldpushOptions = {}): Promise<Running> {
  const running = await startServer(options);
  t.after(() => running.close());
  return running;
}

/** The cursor token of a message id `"<seconds>:<T>"`. */
export function tokenOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

/** `POST /pub/<channel>` over HTTP. */
export function pub(running: Running, channel: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${running.url}/pub/${channel}`, { method: 'POST', body, headers });
}

/** Publishes `count` messages `<prefix><i>` in order; returns their ids. */
export async function publishMany(running: Running, channel: string, count: number, prefix = 'm'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await running.holdpush.publish(channel, `${prefix}${i}`)).id);
  return ids;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The JSON error body of a reply, checked for its shape. */
export function errorOf(reply: Reply): { error: string; message: string } {
  const body = reply.json() as { error: string; message: string };
  if (typeof body.error !== 'string' || typeof body.message !== 'string') throw new Error(`not an error body: ${reply.text}`);
  return body;
}

/**
 * A request whose path is sent exactly as given (a URL string would be normalised by the
 * WHATWG parser: `/sub/..` and `/sub/%2E%2E` would become `/`).
 */
export function requestPath(running: Running, path: string, options: RequestOptions = {}): Promise<Reply> {
  return requestRaw(running.port, path, options);
}

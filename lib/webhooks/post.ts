// One try of one delivery: a POST with node:http or node:https, answered or timed out.
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** What a try came to: the status of the answer, or why there was none. */
export type TryResult = { status: number } | { error: string };

export interface Poster {
  /** POSTs `body` with `headers`; settles with the answer's status, or an error (never rejects). */
  post(body: string, headers: Record<string, string>): Promise<TryResult>;
  /** Aborts a try under way and closes the idle connection. */
  close(): void;
}

/** A poster to `url` (http: or https:), keeping its connection alive between deliveries. */
export function createPoster(url: URL, timeoutMs: number): Poster {
  const https = url.protocol === 'https:';
  // One connection: deliveries leave one after the other.
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const send = https ? httpsRequest : httpRequest;
  const open = new Set<ReturnType<typeof httpRequest>>();

  return {
    post(body, headers) {
      return new Promise((resolve) => {
        const req = send(url, { method: 'POST', agent, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (res: IncomingMessage) => {
          // The answer's body is not read, only drained, so the connection can serve the next.
          res.resume();
          res.on('error', () => undefined);
          res.on('close', () => {
            open.delete(req);
            resolve({ status: res.statusCode ?? 0 });
          });
        });
        open.add(req);
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
        req.on('error', (error) => {
          open.delete(req);
          resolve({ error: error.message });
        });
        req.end(body);
      });
    },
    close() {
      for (const req of open) req.destroy(new Error('closed'));
      open.clear();
      agent.destroy();
    },
  };
}

/** Reading an EventSource stream the way a browser would: the one stream reader of the tests. */
import { type Agent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from 'node:http';
import { waitFor } from './wait';

export interface SseEvent {
  id?: string;
  event?: string;
  /** The `data:` lines joined with `\n`, as an EventSource does. */
  data?: string;
  /** Comment lines of the block, without the leading ':'. */
  comments: string[];
}

export interface EventStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Everything received so far, as text. */
  text(): string;
  /** The complete blocks (ended by a blank line) received so far. */
  events(): SseEvent[];
  /** The blocks that carry data or an event name (comments left out). */
  messages(): SseEvent[];
  /** Resolves once `check` holds for the text received; rejects after `ms`. */
  waitFor(check: (text: string) => boolean, ms?: number, what?: string): Promise<void>;
  /** Resolves when the server ends the response or the connection closes. */
  readonly ended: Promise<void>;
  readonly isEnded: () => boolean;
  /** Stops reading the socket (a slow reader). */
  pause(): void;
  /** Reads again after `pause()`. */
  resume(): void;
  /** Closes the connection from the client side. */
  close(): void;
  readonly response: IncomingMessage;
  readonly request: ClientRequest;
}

export interface StreamOptions {
  headers?: Record<string, string>;
  /** The connection to use (keep-alive tests); by default one of its own. */
  agent?: Agent | false;
  /** Aborting it closes the stream, before or after its headers came. */
  signal?: AbortSignal;
}

export function parseEvents(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  const blocks = text.split('\n\n');
  blocks.pop(); // the unfinished tail
  for (const block of blocks) {
    const event: SseEvent = { comments: [] };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        event.comments.push(line.slice(1));
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'id') event.id = value;
      else if (field === 'event') event.event = value;
    }
    if (data.length > 0) event.data = data.join('\n');
    out.push(event);
  }
  return out;
}

/** Opens an EventSource-style request and resolves once the response headers arrived. */
export function openEventStream(url: string, options: StreamOptions = {}): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const settings = { headers: { Accept: 'text/event-stream', ...options.headers }, agent: options.agent ?? false, signal: options.signal };
    const req = httpRequest(url, settings, (res) => {
      let text = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      const endedPromise = new Promise<void>((done) => {
        const finish = () => {
          ended = true;
          done();
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        events: () => parseEvents(text),
        messages: () => parseEvents(text).filter((e) => e.data !== undefined || e.event !== undefined),
        waitFor: (check, ms = 5000, what = 'stream text') => waitFor(() => check(text), ms, () => `${what}; got ${JSON.stringify(text.slice(-300))}`),
        ended: endedPromise,
        isEnded: () => ended,
        pause() {
          res.pause();
          res.socket?.pause();
        },
        resume() {
          res.socket?.resume();
          res.resume();
        },
        close() {
          req.destroy();
        },
        response: res,
        request: req,
      });
    });
    req.on('error', reject);
    req.end();
  });
}

import { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  /** The `data:` lines joined with `\n`, as an EventSource does. */
  data?: string;
  /** Comment lines of the block, without the leading ':'. */
  comments: string[];
}

export interface OpenStream {
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
export function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
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
      const stream: OpenStream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        events: () => parseEvents(text),
        messages: () => parseEvents(text).filter((e) => e.data !== undefined || e.event !== undefined),
        async waitFor(check, ms = 5000, what = 'stream text') {
          const deadline = Date.now() + ms;
          while (!check(text)) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text.slice(-300))}`);
            await new Promise((r) => setTimeout(r, 5));
          }
        },
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
      };
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

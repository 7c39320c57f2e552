/**
 * Helpers of the memory-budget tests: the server in a process of its own (budget-server.ts)
 * with its RSS read from /proc, and EventSource readers that read, or stop reading, on demand.
 */
import { readFileSync } from 'node:fs';
import { Agent, type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { startChildServer } from './child-server';
import { request, until } from './http';

export const MiB = 1024 * 1024;
export const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

export interface BudgetStats {
  held: { total: number; stream: number };
  channels: number;
  messages: { published: number; evicted: number; expired: number };
  bufferBytes: number;
  pendingBytes: number;
  cut: { pendingBudget: number; slowReader: number };
}

export interface BudgetServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The process's resident set (VmRSS), in bytes. */
  rss(): number;
  stats(): Promise<BudgetStats>;
  /** Client ports of the connections the server saw close, in order. */
  closed(): Promise<number[]>;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/** The resident set of a process, from /proc/<pid>/status (VmRSS, in kB there). */
export function rssOf(pid: number): number {
  const line = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (line === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line[1]) * 1024;
}

/**
 * Starts budget-server.ts with these holdpush options and waits for its port. The young
 * generation is held at 16 MiB on every Node: from Node 24, V8 reserves about 100 MiB more for it
 * by default under this load, memory that is V8's sizing and not what holdpush keeps, and the
 * RSS bounds of these tests are about the latter.
 */
export async function startBudgetServer(options: Record<string, unknown>): Promise<BudgetServer> {
  const { child, port, stop } = await startChildServer(join(__dirname, 'budget-server.ts'), ['--max-semi-space-size=16'], [JSON.stringify(options)]);
  const url = `http://127.0.0.1:${port}`;
  const pid = child.pid as number;
  return {
    url,
    port,
    pid,
    rss: () => rssOf(pid),
    stats: async () => (await request(`${url}/stats`)).json() as BudgetStats,
    closed: async () => (await request(`${url}/__budget/closed`)).json() as number[],
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stop(),
  };
}

/** Publishes over a few keep-alive connections; resolves with the status and the channel's last message id. */
export function publisher(url: string, sockets = 4): { publish(channel: string, body: Buffer | string): Promise<{ status: number; id: string | undefined; text: string }>; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  return {
    publish(channel, body) {
      return new Promise((resolve, reject) => {
        const req = httpRequest(`${url}/pub/${channel}`, { method: 'POST', agent, headers: { Accept: 'application/json' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            const id = status === 201 || status === 202 ? (JSON.parse(text) as { last_message_id: string }).last_message_id : undefined;
            resolve({ status, id, text });
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/**
 * An EventSource reader on its own connection that keeps only what the tests look at: the ids
 * it got, its gap events, and how it ended. `paused` readers stop reading at once (the server's
 * writes then pile up unsent) until `resume()`.
 */
export class SseReader {
  readonly ids: string[] = [];
  gaps = 0;
  status = 0;
  /** The client port, once connected (the server's closed list names it). */
  localPort = 0;
  /** The server ended the response or the connection went, without `close()` here. */
  cutByServer = false;
  private closing = false;
  private tail = '';
  private response: IncomingMessage | undefined;
  private readonly req: ClientRequest;

  constructor(url: string, headers: Record<string, string> = {}, private paused = false) {
    this.req = httpRequest(url, { agent: false, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      this.response = res;
      this.status = res.statusCode ?? 0;
      if (this.paused) res.pause();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.take(chunk));
      res.on('error', () => this.gone());
      res.on('close', () => this.gone());
    });
    this.req.once('socket', (socket) => socket.once('connect', () => (this.localPort = socket.localPort ?? 0)));
    this.req.on('error', () => this.gone());
    this.req.end();
  }

  private gone(): void {
    if (!this.closing) this.cutByServer = true;
  }

  private take(chunk: string): void {
    this.tail += chunk;
    const end = this.tail.lastIndexOf('\n\n');
    if (end < 0) return;
    const blocks = this.tail.slice(0, end).split('\n\n');
    this.tail = this.tail.slice(end + 2);
    for (const block of blocks) {
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) this.ids.push(line.slice(4));
        else if (line === 'event: gap') this.gaps += 1;
      }
    }
  }

  /** Whether the server has answered (once the headers came). */
  get answered(): boolean {
    return this.response !== undefined;
  }

  resume(): void {
    this.paused = false;
    this.response?.resume();
  }

  async waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
    await until(check, ms, what);
  }

  close(): void {
    this.closing = true;
    this.req.destroy();
  }
}

/** Helpers of the batch and idempotency tests: a publisher and subscribers over keep-alive connections. */
import assert from 'node:assert/strict';
import { Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T>(): T;
}

/** One request on `agent` (a connection of its own when none). */
export function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.setTimeout(15000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** `POST /pub` with a batch (any JSON-able document). */
export function postBatch(base: string, document: unknown, headers: Record<string, string> = {}, agent?: Agent): Promise<Answer> {
  return call(`${base}/pub`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(document), agent });
}

/** The sequence number at the end of a token or message id (every store's tokens end in it). */
export function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

export function keepAlive(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/** What one subscriber received: message bodies and ids in order, and how many answers brought them. */
export interface Received {
  data: string[];
  ids: string[];
  answers: number;
}

/** A long-poll subscriber (`poll`: one message per answer; `batch`: JSON answers) until it has `count` messages. */
export async function pollUntil(base: string, channel: string, mode: 'poll' | 'batch', count: number, agent: Agent): Promise<Received> {
  const got: Received = { data: [], ids: [], answers: 0 };
  let position: string | undefined;
  for (let i = 0; i < 2 * count + 10 && got.data.length < count; i++) {
    const headers: Record<string, string> = mode === 'batch' ? { Accept: 'application/json' } : {};
    if (position !== undefined) headers['If-None-Match'] = position;
    const answer = await call(`${base}/sub/${channel}`, { headers, agent });
    if (answer.status !== 200) continue;
    got.answers += 1;
    if (mode === 'poll') {
      position = answer.headers.etag as string;
      got.data.push(answer.text);
      got.ids.push(position);
    } else {
      const body = answer.json<{ messages: { id: string; data: string }[]; last: string }>();
      for (const message of body.messages) {
        got.data.push(message.data);
        got.ids.push(message.id);
      }
      position = body.last;
    }
  }
  return got;
}

/** The `data:` lines and `id:` lines of an EventSource text, in order. */
export function eventsOf(text: string): Received {
  return {
    data: [...text.matchAll(/^data: (.*)$/gm)].map((match) => match[1] as string),
    ids: [...text.matchAll(/^id: (.*)$/gm)].map((match) => match[1] as string),
    answers: 1,
  };
}

/** Checks that ids increase strictly in the order given. */
export function assertIncreasing(ids: readonly string[]): void {
  for (let i = 1; i < ids.length; i++) assert.ok(seqOf(ids[i] as string) > seqOf(ids[i - 1] as string), `ids[${i}] ${ids[i]} does not follow ${ids[i - 1]}`);
}

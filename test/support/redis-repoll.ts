/**
 * Long-poll subscribers re-polling a stream of messages through holdpush servers on one Redis,
 * and the Redis commands it took (INFO commandstats): what the Redis store's cache is measured by.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createHoldpushServer } from '../../lib/http/http-server';
import { type RedisClientLike, loadRedis } from '../../lib/stores/redis/client';
import { type RedisStoreOptions, createRedisStore } from '../../lib/stores/redis/store';
import { waitFor } from './wait';

export interface RepollServer {
  readonly url: string;
  close(): Promise<void>;
}

/** A holdpush server on `redisUrl` (in this process), its store on `prefix`. */
export async function startRedisHoldpush(redisUrl: string, prefix: string, overrides: Partial<RedisStoreOptions> = {}, holdTimeout = 30): Promise<RepollServer> {
  const { server, holdpush } = createHoldpushServer({
    log: 'off',
    holdTimeout,
    store: (context) => createRedisStore({ url: redisUrl, keyPrefix: prefix, commandTimeout: 2000, ...context, ...overrides }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A connection of the test's own to read INFO commandstats. */
export async function statsClient(url: string): Promise<RedisClientLike> {
  const client = loadRedis().createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Calls per command so far (commands a script runs count too), and `scripts`: EVALSHA and EVAL. */
export async function commandCalls(client: RedisClientLike): Promise<Map<string, number>> {
  const info = String(await client.sendCommand(['INFO', 'commandstats']));
  const counts = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm)) counts.set(match[1] as string, Number(match[2]));
  counts.set('scripts', (counts.get('evalsha') ?? 0) + (counts.get('eval') ?? 0));
  return counts;
}

/** What `later` counted more than `earlier`: scripts, and every command but INFO itself. */
export function callsBetween(earlier: Map<string, number>, later: Map<string, number>): { scripts: number; commands: number } {
  let commands = 0;
  for (const [name, calls] of later) {
    if (name !== 'scripts' && name !== 'info') commands += calls - (earlier.get(name) ?? 0);
  }
  return { scripts: (later.get('scripts') ?? 0) - (earlier.get('scripts') ?? 0), commands };
}

interface Answer {
  status: number;
  etag: string | undefined;
  gap: boolean;
  body: string;
}

function get(url: string, agent: Agent | false, position: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, headers: position === undefined ? {} : { 'If-None-Match': position } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, gap: res.headers['x-holdpush-gap'] !== undefined, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'text/plain' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function heldOn(url: string): Promise<number> {
  const answer = await get(`${url}/stats`, false, undefined);
  return (JSON.parse(answer.body) as { process: { held: { total: number } } }).process.held.total;
}

export interface RepollRun {
  /** Redis calls between the first measured publish and the last delivery. */
  readonly scripts: number;
  readonly commands: number;
  readonly seconds: number;
  readonly deliveries: number;
}

/**
 * `subscribers` long-polls (spread over `servers`, each on its own keep-alive connection) take
 * `messages` published one after another (spread over the servers too), each re-polling from the
 * ETag it got; every one must get every message once, in order, with no gap. The calls are
 * counted from when every subscriber is held with a position (after one message each) to the
 * last delivery.
 */
export async function repoll(servers: readonly RepollServer[], stats: RedisClientLike, channel: string, subscribers: number, messages: number): Promise<RepollRun> {
  const agents = Array.from({ length: subscribers }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const urlOf = (i: number) => `${(servers[i % servers.length] as RepollServer).url}/sub/${channel}`;
  const heldWanted = servers.map((_, s) => agents.filter((_a, i) => i % servers.length === s).length);
  const allHeld = async () => (await Promise.all(servers.map((server) => heldOn(server.url)))).every((held, s) => held === heldWanted[s]);
  let started = 0;
  let before = new Map<string, number>();
  try {
    const received: number[] = agents.map(() => 0);
    const runs = agents.map(async (agent, i) => {
      let position: string | undefined;
      // Message 0 first (no position: held at the head), then 1..messages from each ETag.
      for (let expected = 0; expected <= messages; expected++) {
        const answer = await get(urlOf(i), agent, position);
        assert.equal(answer.status, 200, `subscriber ${i} at message ${expected}`);
        assert.equal(answer.body, `m${expected}`, `subscriber ${i}: every message once, in order`);
        assert.equal(answer.gap, false, `subscriber ${i}: no gap at message ${expected}`);
        position = answer.etag;
        received[i] = expected + 1;
      }
    });
    const failed = Promise.all(runs).then(() => undefined);
    failed.catch(() => undefined);
    const serverOf = (n: number) => (servers[n % servers.length] as RepollServer).url;
    await waitFor(allHeld, 10000, 'every subscriber held at the head');
    // Published (201, or 202): a subscriber still confirming its hold (its second read, lib/hold.ts)
    // when the message comes is answered by that read, not by the fan-out, and is not counted
    // among those the message was written to; it gets the message all the same (checked below).
    assert.ok([201, 202].includes(await post(`${serverOf(0)}/pub/${channel}`, 'm0')), 'message 0 published');
    await waitFor(() => received.every((n) => n === 1), 10000, 'message 0 to every subscriber');
    await waitFor(allHeld, 10000, 'every subscriber held again, with a position');
    before = await commandCalls(stats);
    started = performance.now();
    for (let n = 1; n <= messages; n++) await post(`${serverOf(n)}/pub/${channel}`, `m${n}`);
    await failed;
    const seconds = (performance.now() - started) / 1000;
    const afterCalls = await commandCalls(stats);
    const counted = callsBetween(before, afterCalls);
    return { ...counted, seconds, deliveries: subscribers * messages };
  } finally {
    for (const agent of agents) agent.destroy();
  }
}

/**
 * Scripts that follow the clock, not the messages, over `seconds` on `servers` servers: per
 * server and second at most four presence scripts (two ticks, seen up to four a second while
 * counts change: the sender's lock and the webhook outbox come with them), one sweep, one channel
 * refresh and one touch of each channel held (a touch within a second is skipped); and those
 * once more for a second begun.
 */
export function clockAllowance(servers: number, seconds: number, channels = 1): number {
  return servers * (6 + channels) * (Math.ceil(seconds) + 1);
}

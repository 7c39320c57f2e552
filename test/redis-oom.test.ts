/**
 * A full Redis (issue 20, item 3): a real redis-server with `--maxmemory 2mb` and `noeviction`.
 * Publishes past it get 503 with Retry-After and store nothing; subscribers are still served
 * what is buffered (the subscribe path's bookkeeping writes are best effort); DELETE still
 * works and makes room, and publishing works again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RedisClientLike, loadRedis } from '../lib/stores/redis/client';
import { createRedisStore } from '../lib/stores/redis/store';
import { type Running, openStream, request, startServer } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';

const PREFIX = 'oom:';
/**
 * Bodies of 16 KiB fill most of the room a fresh Redis has under 2 MB (about 60 fit); smaller
 * ones then fill the rest, until even a short write is refused (a command's own arguments
 * count toward Redis's memory, so a refused large publish leaves room for small writes).
 */
const SIZES = [16 * 1024, 1024, 64];
/** More than the room could take at any size: each loop below stops at its first refusal long before. */
const MOST_PUBLISHES = 400;

let redis: RedisServer;
let server: Running;
let client: RedisClientLike & { connect(): Promise<unknown>; close?(): Promise<unknown> };

before(async () => {
  redis = await startRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] });
  server = await startServer({
    store: (context) => createRedisStore({ url: redis.url, ...context, keyPrefix: PREFIX, commandTimeout: 2000 }),
  });
  const { createClient } = loadRedis() as unknown as { createClient(options: unknown): typeof client };
  client = createClient({ url: redis.url });
  client.on('error', () => undefined);
  await client.connect();
});

after(async () => {
  await client.close?.();
  await server.close();
  await redis.stop();
});

function body(i: number, size: number): string {
  return `${String(i).padStart(6, '0')}:`.padEnd(size, 'x');
}

function publish(channel: string, data: string) {
  return request(`${server.url}/pub/${channel}`, { method: 'POST', body: data, headers: { Accept: 'application/json' } });
}

test('past maxmemory: publishes get 503 and store nothing; subscribers are served; DELETE makes room', async () => {
  // A stream on the channel before it fills: it hears every message that was stored.
  const live = openStream(`${server.url}/sub/fill`);
  await live.waitFor(':ok');

  const accepted: string[] = [];
  const bodies: string[] = [];
  let refused: Awaited<ReturnType<typeof publish>> | undefined;
  for (const size of SIZES) {
    refused = undefined;
    for (let i = 0; i < MOST_PUBLISHES && refused === undefined; i++) {
      const data = body(bodies.length, size);
      const reply = await publish('fill', data);
      if (reply.status === 503) refused = reply;
      else {
        assert.ok(reply.status === 201 || reply.status === 202, `publish ${i} of ${size} bytes: ${reply.status} ${reply.text}`);
        accepted.push((reply.json() as { last_message_id: string }).last_message_id);
        bodies.push(data);
      }
    }
    assert.ok(refused !== undefined, `Redis took ${MOST_PUBLISHES} messages of ${size} bytes under a 2 MB maxmemory`);
  }
  assert.ok(accepted.length > 10, `only ${accepted.length} publishes went in before Redis was full`);
  assert.ok(refused !== undefined);
  process.stdout.write(`redis (maxmemory 2mb) full after ${accepted.length} messages, ${bodies.reduce((n, data) => n + data.length, 0)} bytes\n`);
  assert.equal(refused.headers['retry-after'], '1');
  const error = refused.json() as { error: string; message: string };
  assert.equal(error.error, 'store_unavailable');
  assert.match(error.message, /maxmemory/);

  // Still full: more publishes are refused, to this channel and to a new one.
  for (const channel of ['fill', 'other']) assert.equal((await publish(channel, 'x')).status, 503, channel);

  // Nothing half published: Redis holds exactly the accepted messages, and the live stream
  // heard exactly those.
  assert.equal(Number(await client.sendCommand(['XLEN', `${PREFIX}s:fill`])), accepted.length);
  const lastId = accepted[accepted.length - 1] as string;
  const heard = await live.waitFor(`id: ${lastId}\n`);
  assert.deepEqual([...heard.matchAll(/^id: (.+)$/gm)].map((m) => m[1]), accepted);
  assert.equal(Number(await client.sendCommand(['EXISTS', `${PREFIX}s:other`, `${PREFIX}m:other`])), 0, 'the refused channel was not made');

  // Subscribers are still served what is buffered: a long-poll from the oldest, a batch, a
  // new stream's replay, channel info.
  const poll = await request(`${server.url}/sub/fill`);
  assert.equal(poll.status, 200, poll.text);
  assert.equal(poll.text, bodies[0]);
  const batch = await request(`${server.url}/sub/fill`, { headers: { Accept: 'application/json' } });
  assert.equal(batch.status, 200, batch.text);
  assert.deepEqual((batch.json() as { messages: { id: string }[] }).messages.map((m) => m.id), accepted);
  const replay = openStream(`${server.url}/sub/fill`);
  await replay.waitFor(`id: ${lastId}\n`);
  replay.close();
  const info = await request(`${server.url}/pub/fill`, { headers: { Accept: 'application/json' } });
  assert.equal(info.status, 200, info.text);
  assert.equal((info.json() as { messages: number }).messages, accepted.length);

  // DELETE works on a full Redis and makes room: publishing works again.
  const deleted = await request(`${server.url}/pub/fill`, { method: 'DELETE' });
  assert.equal(deleted.status, 200, deleted.text);
  await live.waitFor(':410 Gone');
  live.close();
  const again = await publish('fill', 'after the delete');
  assert.ok(again.status === 201 || again.status === 202, `${again.status} ${again.text}`);
  const fresh = await request(`${server.url}/sub/fill`);
  assert.equal(fresh.text, 'after the delete');
});

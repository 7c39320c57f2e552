import assert from 'node:assert/strict';
import type { Agent } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHoldpush, signJwt } from '../lib/index';
import { isPrimaryMessage, isWorkerMessage } from '../lib/stores/cluster/protocol';
import { decodeBatchEvent } from '../lib/stores/redis/batch';
import { createRedisStore } from '../lib/stores/redis/store';
import { type Answer, type Received, assertIncreasing, call, eventsOf, keepAlive, pollUntil, postBatch } from './support/batch-helpers';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, send, startCluster } from './support/cluster-run';
import { type Running, openStream, startServer, tokenOf } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';
import { eventually, waitFor } from './support/wait';


function errorOf(answer: Answer): { error: string; message: string; index?: number } {
  return answer.json();
}

/** Where a batch is published and where its subscribers wait (another process, when there is one). */
interface Deployment {
  readonly publisher: string;
  readonly publisherAgent?: Agent;
  readonly subscribers: string;
  /** A connection for one subscriber (on the subscribers' process). */
  agent(): Agent;
  /** Resolves once the subscribers' side holds `count` subscribers. */
  held(count: number): Promise<void>;
}

const CHANNELS = 10;
const PER_CHANNEL = 100;

/**
 * 1000 messages to 10 channels in one batch, with a long-poll, a batch long-poll and an
 * EventSource subscriber waiting on each channel: each gets exactly its channel's messages, in
 * order. Returns the publish's answer and what the batch subscribers got.
 */
async function fanOut(deployment: Deployment, prefix: string): Promise<{ delivered: number; batchAnswers: number[] }> {
  const channels = Array.from({ length: CHANNELS }, (_, i) => `${prefix}${i}`);
  const polls = channels.map((channel) => pollUntil(deployment.subscribers, channel, 'poll', PER_CHANNEL, deployment.agent()));
  const batches = channels.map((channel) => pollUntil(deployment.subscribers, channel, 'batch', PER_CHANNEL, deployment.agent()));
  const streams = channels.map((channel) => openStream(`${deployment.subscribers}/sub/${channel}`, deployment.agent()));
  try {
    await deployment.held(3 * CHANNELS);
    const messages = Array.from({ length: CHANNELS * PER_CHANNEL }, (_, i) => ({ channel: channels[i % CHANNELS] as string, data: `m${i}` }));
    const answer = await postBatch(deployment.publisher, { messages }, {}, deployment.publisherAgent);
    assert.equal(answer.status, 200, answer.text);
    const { ids, delivered } = answer.json<{ ids: string[]; delivered: number }>();
    assert.equal(ids.length, messages.length);
    assertIncreasing(ids);
    const batchAnswers: number[] = [];
    for (let k = 0; k < CHANNELS; k++) {
      const data = messages.filter((_, i) => i % CHANNELS === k).map((message) => message.data);
      const theirs = ids.filter((_, i) => i % CHANNELS === k);
      const poll = (await polls[k]) as Received;
      assert.deepEqual(poll.data, data, `long-poll on ${channels[k]}`);
      assert.deepEqual(poll.ids, theirs.map(tokenOf));
      assert.equal(poll.answers, PER_CHANNEL, 'a long-poll gets one message per answer');
      const batch = (await batches[k]) as Received;
      assert.deepEqual(batch.data, data, `batch long-poll on ${channels[k]}`);
      assert.deepEqual(batch.ids, theirs);
      batchAnswers.push(batch.answers);
      const events = eventsOf(await (streams[k] as ReturnType<typeof openStream>).waitFor(`id: ${theirs[theirs.length - 1]}\n`));
      assert.deepEqual(events.data, data, `EventSource on ${channels[k]}`);
      assert.deepEqual(events.ids, theirs);
    }
    return { delivered, batchAnswers };
  } finally {
    for (const stream of streams) stream.close();
    // After a failure, subscribers still waiting fail when their connections go: that is no news.
    for (const pending of [...polls, ...batches]) pending.catch(() => undefined);
  }
}

describe('POST /pub: a batch, in one process', () => {
  let server: Running;
  const agents: Agent[] = [];
  before(async () => {
    server = await startServer({ maxMessage: 1000, maxChannels: 50 });
  });
  after(async () => {
    for (const agent of agents) agent.destroy();
    await server.close();
  });
  const published = (): number => server.holdpush.stats().messages.published;

  test('1000 messages to 10 channels: every subscriber in every mode gets exactly its own, in order; ids in input order', async () => {
    const { delivered, batchAnswers } = await fanOut(
      {
        publisher: server.url,
        subscribers: server.url,
        agent() {
          const agent = keepAlive();
          agents.push(agent);
          return agent;
        },
        held: (count) => waitFor(() => server.holdpush.stats().held.total === count, 5000, `${count} held`),
      },
      'fan',
    );
    // In one process the batch is told in one turn: each waiting batch long-poll got its 100 in one answer.
    assert.deepEqual(batchAnswers, Array.from({ length: CHANNELS }, () => 1));
    // Written: the first message to each long-poll, and every message to each batch long-poll and stream.
    assert.equal(delivered, CHANNELS + 2 * CHANNELS * PER_CHANNEL);
    assert.equal(published(), CHANNELS * PER_CHANNEL);
  });

  test('a bad 600th entry is a 400 naming its index, and nothing is published', async () => {
    const before = published();
    const bad: [string, unknown][] = [
      ['an unknown encoding', { channel: 'x', data: 'aGk=', encoding: 'hex' }],
      ['base64 that does not decode exactly', { channel: 'x', data: 'aGk', encoding: 'base64' }],
      ['base64 with a character outside the alphabet', { channel: 'x', data: 'a*k=', encoding: 'base64' }],
      ['no data', { channel: 'x' }],
      ['data that is no string', { channel: 'x', data: 5 }],
      ['no channel', { data: 'x' }],
      ['a channel that is no string', { channel: ['x'], data: 'x' }],
      ['a bad channel name', { channel: 'a/b', data: 'x' }],
      ['a message over --max-message', { channel: 'x', data: 'y'.repeat(1001) }],
      ['a content type of two lines', { channel: 'x', data: 'x', contentType: 'text/plain\r\nX: y' }],
      ['an event name of two lines', { channel: 'x', data: 'x', event: 'a\nb' }],
      ['an entry that is no object', 'x'],
    ];
    for (const [what, entry] of bad) {
      const messages: unknown[] = Array.from({ length: 1000 }, (_, i) => ({ channel: `bad${i % 7}`, data: `m${i}` }));
      messages[599] = entry;
      const answer = await postBatch(server.url, { messages });
      assert.equal(answer.status, 400, what);
      const body = errorOf(answer);
      assert.equal(body.error, 'bad_message', what);
      assert.equal(body.index, 599, what);
      assert.match(body.message, /^messages\[599\]: /, what);
    }
    assert.equal(published(), before);
    assert.equal((await call(`${server.url}/pub/bad0`)).status, 404, 'no channel was made');
  });

  test('an entry of exactly --max-message bytes, base64 bytes, a content type and an event name publish as given', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const answer = await postBatch(server.url, {
      messages: [
        { channel: 'exact', data: 'y'.repeat(1000) },
        { channel: 'exact', data: bytes.toString('base64'), encoding: 'base64', contentType: 'application/octet-stream', event: 'bin' },
      ],
    });
    assert.equal(answer.status, 200, answer.text);
    const read = await call(`${server.url}/sub/exact`, { headers: { Accept: 'application/json' } });
    const body = read.json<{ messages: { data: string; contentType: string; encoding?: string }[] }>();
    assert.equal(body.messages[0]?.contentType, 'text/plain; charset=utf-8');
    assert.equal(body.messages[0]?.data, 'y'.repeat(1000));
    assert.deepEqual(body.messages[1], { ...body.messages[1], contentType: 'application/octet-stream', data: bytes.toString('base64'), encoding: 'base64' });
    const stream = openStream(`${server.url}/sub/exact`);
    try {
      assert.match(await stream.waitFor('event: bin'), /event: bin\n/);
    } finally {
      stream.close();
    }
  });

  test('limits: over 1000 entries 413, a body over the limit 413, a content type other than JSON 415, a body that is no batch 400', async () => {
    const before = published();
    const tooMany = await postBatch(server.url, { messages: Array.from({ length: 1001 }, (_, i) => ({ channel: 'lim', data: `${i}` })) });
    assert.equal(tooMany.status, 413);
    assert.equal(errorOf(tooMany).error, 'too_many_messages');
    // --max-message 1000: the body limit is 1 MiB.
    const huge = JSON.stringify({ messages: [{ channel: 'lim', data: 'x'.repeat(1024 * 1024) }] });
    const tooLarge = await call(`${server.url}/pub`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: huge });
    assert.equal(tooLarge.status, 413);
    assert.equal(errorOf(tooLarge).error, 'payload_too_large');
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const headers: Record<string, string> = type === undefined ? {} : { 'Content-Type': type };
      const answer = await call(`${server.url}/pub`, { method: 'POST', headers, body: JSON.stringify({ messages: [{ channel: 'lim', data: 'x' }] }) });
      assert.equal(answer.status, 415, String(type));
      assert.equal(errorOf(answer).error, 'unsupported_media_type');
    }
    for (const body of ['{"messages": [', '[]', '{"messages": {}}', '{"messages": []}', '{}', '"x"']) {
      const answer = await call(`${server.url}/pub`, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body });
      assert.equal(answer.status, 400, body);
      assert.equal(errorOf(answer).error, 'bad_body', body);
    }
    assert.equal(published(), before);
    assert.equal((await call(`${server.url}/pub`)).status, 405, 'GET /pub is not a route');
  });

  test('all or nothing: a batch that would pass --max-channels publishes nothing (503)', async () => {
    const before = published();
    const alive = server.holdpush.stats().channels;
    const messages = Array.from({ length: 51 - alive }, (_, i) => ({ channel: `many${i}`, data: 'x' }));
    const answer = await postBatch(server.url, { messages });
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).error, 'too_many_channels');
    assert.equal(published(), before);
    assert.equal(server.holdpush.stats().channels, alive);
    assert.equal((await postBatch(server.url, { messages: messages.slice(1) })).status, 200, 'one channel fewer fits');
  });
});

describe('POST /pub: rights are those of /pub/<channel>', () => {
  test('--publish-token: 401 without it or with a wrong one, 200 with it', async (t) => {
    const server = await startServer({ publishToken: 'sekrit' });
    t.after(() => server.close());
    const batch = { messages: [{ channel: 'r', data: 'x' }] };
    const none = await postBatch(server.url, batch);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="holdpush"');
    assert.equal((await postBatch(server.url, batch, { Authorization: 'Bearer wrong' })).status, 401);
    assert.equal(server.holdpush.stats().messages.published, 0);
    assert.equal((await postBatch(server.url, batch, { Authorization: 'Bearer sekrit' })).status, 200);
  });

  test('--publish-allow: 403 from an address not allowed; a token granting some channels covers a batch to those only', async (t) => {
    const server = await startServer({ publishAllow: ['10.0.0.0/8'], subscribeSecret: 'jwt-secret' });
    t.after(() => server.close());
    const grant = signJwt({ holdpush: { publish: ['a'] } }, 'jwt-secret');
    assert.equal((await postBatch(server.url, { messages: [{ channel: 'a', data: 'x' }] })).status, 403);
    const mixed = await postBatch(server.url, { messages: [{ channel: 'a', data: 'x' }, { channel: 'b', data: 'y' }] }, { Authorization: `Bearer ${grant}` });
    assert.equal(mixed.status, 403);
    assert.equal(server.holdpush.stats().messages.published, 0);
    assert.equal((await postBatch(server.url, { messages: [{ channel: 'a', data: 'x' }, { channel: 'a', data: 'y' }] }, { Authorization: `Bearer ${grant}` })).status, 200);
  });
});

describe('POST /pub: an app that decides publishes is asked once per batch', () => {
  test('authorize is asked once, naming every channel of the batch; its refusal publishes nothing', async (t) => {
    const asked: string[][] = [];
    const server = await startServer({
      authorize(request) {
        if (request.op === 'publish') asked.push([...request.channels]);
        return request.channels.includes('closed') ? { status: 403, message: 'not that one' } : true;
      },
    });
    t.after(() => server.close());
    const open = await postBatch(server.url, { messages: [{ channel: 'a', data: '1' }, { channel: 'b', data: '2' }, { channel: 'a', data: '3' }] });
    assert.equal(open.status, 200, open.text);
    const closed = await postBatch(server.url, { messages: [{ channel: 'a', data: '4' }, { channel: 'closed', data: '5' }] });
    assert.equal(closed.status, 403);
    assert.deepEqual(asked, [['a', 'b'], ['a', 'closed']]);
    assert.equal(server.holdpush.stats().messages.published, 3);
  });
});

describe('publishMany() in an app', () => {
  const holdpush = createHoldpush({ maxMessage: 10 });
  after(() => holdpush.close());
  const publishMany = holdpush.publishMany as (...args: unknown[]) => Promise<unknown>;

  test('publishes in order, all or none; bad input rejects naming the index, publishing nothing', async () => {
    const result = await holdpush.publishMany([
      { channel: 'e1', data: 'one' },
      { channel: 'uid:bob', data: Buffer.from([1, 2]), contentType: 'application/octet-stream' },
      { channel: 'e1', data: 'two', event: 'ev' },
    ]);
    assert.equal(result.ids.length, 3);
    assertIncreasing(result.ids);
    assert.equal(result.replayed, false);
    assert.equal(holdpush.stats().messages.published, 3);
    for (const [args, kind, message] of [
      [['e1'], TypeError, /^publishMany takes an array/],
      [[[]], TypeError, /needs 1 to 1000 messages/],
      [[Array.from({ length: 1001 }, () => ({ channel: 'e', data: 'x' }))], RangeError, /at most 1000 messages, got 1001/],
      [[[{ channel: 'e', data: 'x' }, null]], TypeError, /^messages\[1\] must be an object/],
      [[[{ channel: 'e', data: 'x' }, { channel: 'a b', data: 'x' }]], TypeError, /^messages\[1\]: not a channel name/],
      [[[{ channel: 'e', data: 'x' }, { channel: 'e', data: {} }]], TypeError, /^messages\[1\]: publish data must be/],
      [[[{ channel: 'e', data: 'x' }, { channel: 'e', data: 'x'.repeat(11) }]], RangeError, /^messages\[1\]: a message may be at most 10 bytes/],
      [[[{ channel: 'e', data: 'x', contentType: 'a\nb' }]], TypeError, /^messages\[0\]: contentType must be a header value/],
      [[[{ channel: 'e', data: 'x' }], { idempotencyKey: 'has space' }], TypeError, /^idempotencyKey must be 1-255 visible ASCII/],
      [[[{ channel: 'e', data: 'x' }], 'key'], TypeError, /^publishMany options must be an object/],
    ] as const) {
      let promise: unknown;
      assert.doesNotThrow(() => {
        promise = publishMany(...args);
      });
      await assert.rejects(promise as Promise<unknown>, (error: Error) => error instanceof kind && message.test(error.message), String(message));
    }
    assert.equal(holdpush.stats().messages.published, 3);
  });
});

test('inside an app: a batch its JSON parser read is taken from req.body', async (t) => {
  const holdpush = createHoldpush();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text !== '') (req as typeof req & { body?: unknown }).body = JSON.parse(text);
      if (!holdpush.handle(req, res)) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await holdpush.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const answer = await postBatch(base, { messages: [{ channel: 'parsed', data: 'a' }, { channel: 'parsed', data: 'b' }] });
  assert.equal(answer.status, 200, answer.text);
  const read = await call(`${base}/sub/parsed`, { headers: { Accept: 'application/json' } });
  assert.deepEqual(read.json<{ messages: { data: string }[] }>().messages.map((m) => m.data), ['a', 'b']);
});

describe('POST /pub with --workers 2: published on one worker, subscribers on the other', { timeout: 60000 }, () => {
  let run: ClusterRun;
  let publisher: Pinned;
  let subscribers: Pinned[];
  let spare: Pinned[];
  before(async () => {
    run = await startCluster({ HP_WORKERS: '2', HP_HOLD: '10' });
    const [one, two] = (await pinWorkers(run.url, 2, 3 * CHANNELS, 200)) as [Pinned[], Pinned[]];
    [publisher, ...spare] = one as [Pinned, ...Pinned[]];
    subscribers = two;
  });
  after(() => {
    for (const pinned of [publisher, ...(spare ?? []), ...(subscribers ?? [])]) pinned?.agent.destroy();
    if (run !== undefined) killGroup(run.child);
  });

  test('1000 messages to 10 channels reach every mode on the other worker, each its own, in order', { timeout: 30000 }, async () => {
    let next = 0;
    await fanOut(
      {
        publisher: run.url,
        publisherAgent: publisher.agent,
        subscribers: run.url,
        agent: () => (subscribers[next++] as Pinned).agent,
        async held(count) {
          const read = async () => JSON.parse((await send(`${run.url}/_worker`, { agent: publisher.agent })).text) as { totals: { held: { total: number } } | null };
          await eventually(read, (seen) => seen.totals?.held.total === count, 10000, `the cluster to hold ${count}`);
        },
      },
      'wfan',
    );
  });
});

describe('POST /pub on Redis', { timeout: 60000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ persist: true });
  });
  after(() => redis?.stop());

  function onRedis(keyPrefix: string, options: { maxChannels?: number; commandTimeout?: number } = {}): Promise<Running> {
    return startServer({ maxChannels: options.maxChannels ?? 1000, store: (context) => createRedisStore({ url: redis.url, ...context, keyPrefix, commandTimeout: options.commandTimeout ?? 2000 }) });
  }

  test('two servers: a batch published on one reaches every mode on the other, each its own, in order', { timeout: 30000 }, async (t) => {
    const [a, b] = await Promise.all([onRedis('fan:'), onRedis('fan:')]);
    const agents: Agent[] = [];
    t.after(async () => {
      for (const agent of agents) agent.destroy();
      await Promise.all([a.close(), b.close()]);
    });
    await fanOut(
      {
        publisher: a.url,
        subscribers: b.url,
        agent() {
          const agent = keepAlive();
          agents.push(agent);
          return agent;
        },
        held: (count) => waitFor(() => b.holdpush.stats().held.total === count, 5000, `${count} held`),
      },
      'rfan',
    );
  });

  test('a batch that would pass --max-channels publishes nothing', async (t) => {
    const server = await onRedis('limit:', { maxChannels: 5 });
    t.after(() => server.close());
    const answer = await postBatch(server.url, { messages: Array.from({ length: 12 }, (_, i) => ({ channel: `rmany${i % 6}`, data: 'x' })) });
    assert.equal(answer.status, 503, answer.text);
    assert.equal(errorOf(answer).error, 'too_many_channels');
    assert.equal((await call(`${server.url}/pub/rmany0`)).status, 404);
    assert.equal((await postBatch(server.url, { messages: Array.from({ length: 10 }, (_, i) => ({ channel: `rmany${i % 5}`, data: 'x' })) })).status, 200);
  });

  test('Redis down during a batch: 503, and no part of it is there when Redis is back', { timeout: 30000 }, async (t) => {
    const server = await onRedis('down:', { commandTimeout: 500 });
    t.after(() => server.close());
    const first = { messages: [{ channel: 'down1', data: 'a1' }, { channel: 'down2', data: 'a2' }, { channel: 'down1', data: 'a3' }] };
    assert.equal((await postBatch(server.url, first)).status, 200);
    await redis.kill();
    const second = { messages: [{ channel: 'down1', data: 'b1' }, { channel: 'down2', data: 'b2' }] };
    const refused = await postBatch(server.url, second);
    assert.equal(refused.status, 503);
    assert.equal(errorOf(refused).error, 'store_unavailable');
    assert.equal(refused.headers['retry-after'], '1');
    await redis.start();
    const readAll = async (): Promise<string[] | undefined> => {
      const answer = await call(`${server.url}/sub/down1,down2`, { headers: { Accept: 'application/json' } });
      return answer.status === 200 ? answer.json<{ messages: { data: string }[] }>().messages.map((m) => m.data) : undefined;
    };
    const seen = await eventually(readAll, (messages) => messages !== undefined, 10000, 'Redis to be back');
    assert.deepEqual(seen, ['a1', 'a2', 'a3'], 'only the batch that was answered 200 is there');
    assert.equal((await postBatch(server.url, second)).status, 200);
    assert.deepEqual(await readAll(), ['a1', 'a2', 'a3', 'b1', 'b2']);
  });
});

describe('a batch between processes', () => {
  test('the cluster protocol checks batch calls, ledger calls and batch fan-outs field by field', () => {
    const entry = { channel: 'a', data: new Uint8Array([1]), contentType: 'text/plain', event: undefined };
    assert.equal(isWorkerMessage({ hp: 'req', id: 1, op: 'appendMany', args: [[entry, { ...entry, event: 'e' }]] }), true);
    for (const bad of [[[{ ...entry, channel: 7 }]], [[{ ...entry, data: 'x' }]], [entry], []]) {
      assert.equal(isWorkerMessage({ hp: 'req', id: 1, op: 'appendMany', args: bad }), false, JSON.stringify(bad));
    }
    assert.equal(isWorkerMessage({ hp: 'req', id: 2, op: 'claim', args: ['k', 'fp', 1000] }), true);
    assert.equal(isWorkerMessage({ hp: 'req', id: 2, op: 'claim', args: ['k', 'fp'] }), false);
    const answer = { status: 200, headers: ['Content-Type', 'application/json'], body: '{}' };
    assert.equal(isWorkerMessage({ hp: 'req', id: 3, op: 'settle', args: ['k', 't', answer, 1000] }), true);
    assert.equal(isWorkerMessage({ hp: 'req', id: 3, op: 'settle', args: ['k', 't', null, 1000] }), true);
    assert.equal(isWorkerMessage({ hp: 'req', id: 3, op: 'settle', args: ['k', 't', { ...answer, headers: [1] }, 1000] }), false);
    const wire = { channel: 'a', token: 't-1', id: '1:t-1', time: 1, contentType: 'text/plain', event: undefined, data: new Uint8Array([1]) };
    assert.equal(isPrimaryMessage({ hp: 'msgs', messages: [wire, wire] }), true);
    assert.equal(isPrimaryMessage({ hp: 'msgs', messages: [{ ...wire, data: 'x' }] }), false);
  });

  test("a Redis batch event is read whole or not at all", () => {
    const payload = (header: unknown, bodies: string) => Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), Buffer.from(bodies)]);
    const good = decodeBatchEvent(payload({ t: 'b', e: 'ep', m: [['a', '5-1', 'text/plain', '', 2], ['b', '5-2', 'x/y', 'ev', 3]] }, 'hiyou'));
    assert.deepEqual(
      good?.messages.map(({ seq, message }) => [seq, message.channel, message.token, message.data.toString(), message.contentType, message.event]),
      [
        [1, 'a', 'ep-5-1', 'hi', 'text/plain', undefined],
        [2, 'b', 'ep-5-2', 'you', 'x/y', 'ev'],
      ],
    );
    assert.equal(decodeBatchEvent(payload({ t: 'b', e: 'ep', m: [['a', '5-1', 'text/plain', '', 9]] }, 'hi')), null, 'bodies shorter than the lengths');
    assert.equal(decodeBatchEvent(payload({ t: 'b', e: 'ep', m: [['a', '5-1', 'text/plain', '', 1]] }, 'hi')), null, 'bytes left over');
    assert.equal(decodeBatchEvent(payload({ t: 'm', c: 'a', i: '5-1', e: 'ep' }, 'hi')), null, 'a single message is not a batch');
    assert.equal(decodeBatchEvent(Buffer.from('not json\n')), null);
  });
});

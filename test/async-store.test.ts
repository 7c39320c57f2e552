import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStore } from '../lib/stores/memory/store';
import type { MessageStore, StoreEvents } from '../lib/stores/store';
import { request, startServer } from './support/http';

/**
 * The memory store behind a network-like delay, as with Redis or a cluster's primary: reads
 * are done at once but answered late, and wake-ups arrive late (in publish order, as the store contract says), in any
 * order relative to reads.
 */
function laggingStore(inner: MessageStore, lagMs: () => number): MessageStore {
  const later = <T>(value: () => T | Promise<T>) => new Promise<T>((resolve, reject) => setTimeout(() => Promise.resolve().then(value).then(resolve, reject), lagMs()));
  const queue: { due: number; wake: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastDue = 0;
  const pump = () => {
    timer = undefined;
    while (queue.length > 0 && (queue[0] as { due: number }).due <= Date.now()) queue.shift()?.wake();
    if (queue.length > 0) timer = setTimeout(pump, (queue[0] as { due: number }).due - Date.now());
  };
  const inOrder = (wake: () => void) => {
    lastDue = Math.max(lastDue, Date.now() + lagMs());
    queue.push({ due: lastDue, wake });
    timer ??= setTimeout(pump, lastDue - Date.now());
  };
  return {
    ...inner,
    // Wakes over the "network" and reads with a promise, as the network stores do.
    wakesInStep: false,
    immediate: undefined,
    read: (channels, after, limit) => {
      const answer = inner.read(channels, after, limit);
      return later(() => answer);
    },
    watch(events: StoreEvents) {
      return inner.watch({
        message: (message) => inOrder(() => events.message(message)),
        deleted: (channel) => inOrder(() => events.deleted(channel)),
      });
    },
  };
}

test('with late reads and late wake-ups, re-polling clients get every message once, in order', async () => {
  const server = await startServer({
    holdTimeout: 2,
    store: (context) => laggingStore(createMemoryStore(context), () => Math.random() * 8),
  });
  try {
    const total = 120;
    const clients = 4;
    const received: string[][] = Array.from({ length: clients }, () => []);
    const start = await server.holdpush.publish('lag', 'start');
    const startToken = start.id.slice(start.id.indexOf(':') + 1);
    const polls = received.map(async (got) => {
      let position = startToken;
      while (got.length < total) {
        const reply = await request(`${server.url}/sub/lag`, { headers: { 'If-None-Match': position } });
        if (reply.status === 200) {
          got.push(reply.text);
          position = reply.headers.etag as string;
        } else assert.equal(reply.status, 408);
      }
    });
    for (let i = 0; i < total; i++) {
      await server.holdpush.publish('lag', String(i));
      if (i % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(polls);
    const expected = Array.from({ length: total }, (_, i) => String(i));
    for (const got of received) assert.deepEqual(got, expected);
    assert.equal(server.holdpush.stats().held.total, 0);
  } finally {
    await server.close();
  }
});

test('with late wake-ups, an EventSource stream gets every message once, in order', async () => {
  const server = await startServer({
    store: (context) => laggingStore(createMemoryStore(context), () => Math.random() * 6),
  });
  try {
    const total = 80;
    const controller = new AbortController();
    const { request: httpRequest } = await import('node:http');
    const lines: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${server.url}/sub/es`, { headers: { Accept: 'text/event-stream' }, signal: controller.signal, agent: false }, (res) => {
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const parts = buffer.split('\n');
          buffer = parts.pop() ?? '';
          for (const line of parts) if (line.startsWith('data: ')) lines.push(line.slice(6));
          if (lines.length >= total) resolve();
        });
        res.on('error', () => undefined);
      });
      req.on('error', (error) => (controller.signal.aborted ? undefined : reject(error)));
      req.end();
    });
    for (let i = 0; i < total; i++) {
      await server.holdpush.publish('es', String(i));
      if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`stream got ${lines.length}: ${lines.join(",")}`)), 5000))]);
    controller.abort();
    assert.deepEqual(lines.slice(0, total), Array.from({ length: total }, (_, i) => String(i)));
  } finally {
    await server.close();
  }
});

test('a wake-up that comes while the read is on its way is not lost', async () => {
  let releaseRead: () => void = () => undefined;
  let gateNext = false;
  const server = await startServer({
    holdTimeout: 1,
    store: (context) => {
      const inner = createMemoryStore(context);
      return {
        ...inner,
        wakesInStep: false,
        immediate: undefined,
        read(channels, after, limit) {
          const answer = inner.read(channels, after, limit);
          if (!gateNext) return answer;
          gateNext = false;
          return new Promise((resolve) => {
            releaseRead = () => resolve(answer);
          });
        },
      };
    },
  });
  try {
    for (const accept of ['*/*', 'application/json']) {
      gateNext = true;
      const waiting = request(`${server.url}/sub/gate-${accept.length}`, { headers: { Accept: accept } });
      while (gateNext) await new Promise((resolve) => setTimeout(resolve, 2));
      await server.holdpush.publish(`gate-${accept.length}`, 'published during the read');
      releaseRead();
      const reply = await waiting;
      assert.equal(reply.status, 200, 'the message published while the read was out comes, not a timeout');
      assert.match(reply.text, /published during the read/);
    }
    assert.equal(server.holdpush.stats().held.total, 0);
  } finally {
    await server.close();
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as pause } from 'node:timers/promises';
import { request } from './support/http';
import { createRng } from './support/rng';
import { startServer } from './support/servers';
import { waitFor } from './support/wait';

test('20 clients that randomly abort and re-poll with their positions each get 1..2000 exactly, in order', { timeout: 60_000 }, async () => {
  const seed = Number(process.env.SOAK_SEED ?? Date.now() % 100000);
  const { next: random } = createRng(seed);
  const total = 2000;
  const server = await startServer({ holdTimeout: 0.5, buffer: total + 10 });
  try {
    const start = await server.holdpush.publish('soak', 'start');
    const startToken = start.id.slice(start.id.indexOf(':') + 1);
    let aborted = 0;
    const clients = Array.from({ length: 20 }, async (_, index) => {
      const got: number[] = [];
      let position = startToken;
      const batch = index % 2 === 1;
      while (got.length < total) {
        const controller = new AbortController();
        // Some polls are cut by the client at a random moment, as a tab closing or a network drop would.
        const cut = random() < 0.3 ? setTimeout(() => controller.abort(), random() * 20) : undefined;
        try {
          const reply = await request(`${server.url}/sub/soak?last_event_id=${encodeURIComponent(position)}`, { signal: controller.signal, headers: batch ? { Accept: 'application/json' } : {} });
          if (reply.status === 200 && batch) {
            const body = reply.json() as { messages: { data: string }[]; last: string; gap: boolean };
            assert.equal(body.gap, false);
            for (const message of body.messages) got.push(Number(message.data));
            position = body.last;
          } else if (reply.status === 200) {
            assert.equal(reply.headers['x-holdpush-gap'], undefined);
            got.push(Number(reply.text));
            position = reply.headers.etag as string;
          } else assert.ok(reply.status === 204 || reply.status === 408, `status ${reply.status}`);
        } catch (error) {
          if (!controller.signal.aborted) throw error;
          aborted += 1;
        } finally {
          clearTimeout(cut);
        }
      }
      return got;
    });
    for (let i = 1; i <= total; i++) {
      await server.holdpush.publish('soak', String(i));
      // The publisher pauses now and then, so that polls are held as well as answered at once.
      if (random() < 0.05) await pause(random() * 10);
    }
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    const results = await Promise.all(clients);
    for (const got of results) assert.deepEqual(got, expected, `seed ${seed}`);
    assert.ok(aborted > 0, 'some polls were cut while held or in flight');
    // A poll cut by its client is released when its connection's close reaches the server.
    await waitFor(() => server.holdpush.stats().held.total === 0, 5000, () => `nothing held (now ${server.holdpush.stats().held.total})`);
    process.stdout.write(`# lossless soak: seed ${seed}, 20 clients x ${total} messages, ${aborted} polls cut, none lost or repeated\n`);
  } finally {
    await server.close();
  }
});

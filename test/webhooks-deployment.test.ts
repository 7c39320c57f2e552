// Occupancy webhooks sent once per deployment: by a --workers server's primary, and by one of the servers on one Redis.
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OccupancyEvent } from '../lib/presence/occupancy';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, startCluster } from './support/cluster-run';
import { type Child, startCli } from './support/servers';
import { openStream, until } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';

const SECRET = 'a-secret-of-some-length';
const { signedBy } = require(join(__dirname, '..', 'examples', 'webhook-receiver.js')) as { signedBy(secret: string, body: Buffer, header: string | undefined): boolean };

interface Try {
  id: string;
  events: OccupancyEvent[];
  accepted: boolean;
  /** The signature matched the body and the header's id the body's. */
  signed: boolean;
}

/** A receiver that checks each signature, records every try, and refuses (500) while `failing`. */
async function startReceiver(): Promise<{ url: string; tries: Try[]; failing: boolean; events(): string[]; close(): void }> {
  const state = {
    url: '',
    tries: [] as Try[],
    failing: false,
    /** The events of the accepted deliveries, each delivery id once. */
    events(): string[] {
      const seen = new Set<string>();
      const out: string[] = [];
      for (const attempt of state.tries) {
        if (!attempt.accepted || seen.has(attempt.id)) continue;
        seen.add(attempt.id);
        for (const event of attempt.events) out.push(`${event.type === 'channel.occupied' ? '+' : '-'}${event.channel}`);
      }
      return out;
    },
    close(): void {
      server.closeAllConnections();
      server.close();
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const delivery = JSON.parse(body.toString()) as { id: string; events: OccupancyEvent[] };
      const signed = signedBy(SECRET, body, req.headers['x-holdpush-signature'] as string) && req.headers['x-holdpush-delivery'] === delivery.id;
      state.tries.push({ id: delivery.id, events: delivery.events, accepted: !state.failing, signed });
      res.statusCode = state.failing ? 500 : 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return state;
}

/** Each event of `expected` once, and nothing else (in any order between channels). */
function once(receiver: { events(): string[]; tries: Try[] }, expected: string[]): void {
  assert.deepEqual([...receiver.events()].sort(), [...expected].sort());
  assert.ok(receiver.tries.every((attempt) => attempt.signed), 'every try signed');
}

/** Waits until `ms` have passed: for an event that must not come within a delay. */
function past(ms: number): Promise<void> {
  const end = Date.now() + ms;
  return until(() => Date.now() >= end, ms + 1000, `${ms} ms`);
}

describe('--workers 2: the primary decides and sends', { timeout: 30000 }, () => {
  let run: ClusterRun;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let a: Pinned[];
  let b: Pinned[];

  before(async () => {
    receiver = await startReceiver();
    run = await startCluster({ HP_WORKERS: '2', HP_HOLD: '20', HP_WEBHOOK_URL: receiver.url, HP_WEBHOOK_SECRET: SECRET, HP_VACATE: '0.5' });
    [a, b] = (await pinWorkers(run.url, 2, 2)) as [Pinned[], Pinned[]];
  });

  after(() => {
    for (const pinned of [...(a ?? []), ...(b ?? [])]) pinned.agent.destroy();
    if (run !== undefined) killGroup(run.child);
    receiver?.close();
  });

  test('subscribers on both workers: one occupied, and one vacated once the last of them left', async () => {
    const onA = openStream(`${run.url}/sub/shared`, (a[0] as Pinned).agent);
    await onA.waitFor(':ok');
    const onB = openStream(`${run.url}/sub/shared`, (b[0] as Pinned).agent);
    await onB.waitFor(':ok');
    const person = openStream(`${run.url}/?uid=cat`, (b[1] as Pinned).agent);
    await until(() => receiver.events().length === 2, 8000, `occupied: ${receiver.events().join()}`);
    onA.close();
    // Twice the delay later, a channel held on the other worker is still occupied: a later
    // event (+marker) arrives, and no -shared before it.
    await past(1000);
    const marker = openStream(`${run.url}/sub/marker`, (a[1] as Pinned).agent);
    await until(() => receiver.events().includes('+marker'), 8000, '+marker');
    assert.deepEqual(receiver.events().filter((e) => e.endsWith('shared')), ['+shared']);
    onB.close();
    person.close();
    marker.close();
    await until(() => receiver.events().length === 6, 8000, `vacated: ${receiver.events().join()}`);
    once(receiver, ['+shared', '+uid:cat', '+marker', '-shared', '-uid:cat', '-marker']);
    assert.ok(receiver.events().indexOf('+shared') < receiver.events().indexOf('-shared'));
  });
});

describe('servers on one Redis: one of them sends, and another takes over when it dies', { timeout: 30000 }, () => {
  let redis: RedisServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const children: Child[] = [];

  before(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
  });

  after(async () => {
    for (const child of children) await child.stop(2000);
    receiver?.close();
    await redis?.stop();
  });

  async function server(): Promise<{ url: string; child: Child }> {
    const child = startCli(['--port', '0', '--host', '127.0.0.1', '--log', 'off', '--redis', redis.url, '--webhook-url', receiver.url, '--webhook-secret', SECRET, '--vacate-delay', '0.5', '--hold-timeout', '20']);
    children.push(child);
    return { url: `http://127.0.0.1:${await child.listening}`, child };
  }

  test('each event once; the survivor delivers what the dead sender owed, with the same id, and vacates its subscribers', async () => {
    // A starts alone, so A is the sender.
    const a = await server();
    const first = openStream(`${a.url}/sub/first`);
    await until(() => receiver.events().includes('+first'), 8000, 'A sends');
    const b = await server();

    // One channel held on both servers: occupied once.
    const both = [openStream(`${a.url}/sub/both`), openStream(`${b.url}/sub/both`)];
    await until(() => receiver.events().includes('+both'), 8000, '+both');

    // The receiver fails: A's next delivery waits in the Redis outbox while A retries it.
    receiver.failing = true;
    const doomed = [openStream(`${a.url}/sub/doomed`), openStream(`${a.url}/sub/doomed`)];
    await until(() => receiver.tries.some((attempt) => !attempt.accepted), 8000, 'a refused try');
    const owed = (receiver.tries.find((attempt) => !attempt.accepted) as Try).id;
    a.child.process.kill('SIGKILL');
    await a.child.exited;
    for (const stream of [first, ...doomed, both[0] as ReturnType<typeof openStream>]) stream.close();
    receiver.failing = false;

    // B takes the lock when A's expires, sends A's owed delivery as it was, then vacates what A held.
    await until(() => receiver.tries.some((attempt) => attempt.accepted && attempt.id === owed), 15000, 'the owed delivery');
    await until(() => receiver.events().includes('-doomed') && receiver.events().includes('-first'), 10000, `vacated after A's share expired: ${receiver.events().join()}`);
    assert.ok(!receiver.events().includes('-both'), 'B still holds both');
    (both[1] as ReturnType<typeof openStream>).close();
    await until(() => receiver.events().includes('-both'), 8000, '-both');
    once(receiver, ['+first', '+both', '+doomed', '-first', '-doomed', '-both']);
    const ids = receiver.tries.filter((attempt) => attempt.accepted).map((attempt) => attempt.id);
    assert.equal(new Set(ids).size, ids.length, 'no delivery accepted twice');
  });
});

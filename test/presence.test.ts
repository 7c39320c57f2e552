// Subscriber counts of the whole deployment: over --workers 2, and over servers sharing one Redis.
import assert from 'node:assert/strict';
import type { Agent } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type RedisClientLike, loadRedis } from '../lib/stores/redis/client';
import { type ClusterRun, type Pinned, killGroup, pinWorkers, send, startCluster } from './support/cluster-run';
import { type Child, startCli } from './support/servers';
import { openStream } from './support/http';
import { type RedisServer, startRedis } from './support/redis-server';
import { eventually } from './support/wait';

interface Stats {
  held: { longpoll: number; stream: number; total: number };
  process: { held: { longpoll: number; stream: number; total: number } };
}

/** Counts travel between processes at most every 500 ms: the waits allow a busy machine more. */
const COUNTED_MS = 8000;

async function subscribers(url: string, channel: string, agent?: Agent): Promise<number> {
  const reply = await send(`${url}/pub/${channel}`, { agent, headers: { Accept: 'application/json' } });
  if (reply.status === 404) return 0;
  return (JSON.parse(reply.text) as { subscribers: number }).subscribers;
}

async function stats(url: string, agent?: Agent): Promise<Stats> {
  return JSON.parse((await send(`${url}/stats`, { agent })).text) as Stats;
}

function sendForm(url: string, uid: string, agent?: Agent) {
  return send(`${url}/send`, { agent, method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: `message=hi&uid=${uid}` });
}

describe('--workers 2: counts cover every worker', { timeout: 30000 }, () => {
  let run: ClusterRun;
  let a: Pinned[];
  let b: Pinned[];

  before(async () => {
    run = await startCluster({ HP_WORKERS: '2', HP_HOLD: '20' });
    [a, b] = (await pinWorkers(run.url, 2, 3)) as [Pinned[], Pinned[]];
  });

  after(() => {
    for (const pinned of [...(a ?? []), ...(b ?? [])]) pinned.agent.destroy();
    if (run !== undefined) killGroup(run.child);
  });

  test('channel info, /stats and /metrics of either worker show the total; the process figures stay beside', async () => {
    const [a0, a1, a2] = a as [Pinned, Pinned, Pinned];
    const [b0, b1] = b as [Pinned, Pinned];
    const polls = [send(`${run.url}/sub/count`, { agent: a0.agent }), send(`${run.url}/sub/count`, { agent: a1.agent })];
    const stream = openStream(`${run.url}/sub/count`, b0.agent);
    await stream.waitFor(':ok');
    assert.equal(await eventually(() => subscribers(run.url, 'count', a2.agent), (n) => n === 3, COUNTED_MS), 3);
    assert.equal(await eventually(() => subscribers(run.url, 'count', b1.agent), (n) => n === 3, COUNTED_MS), 3);
    const onA = await eventually(() => stats(run.url, a2.agent), (s) => s.held.total === 3, COUNTED_MS);
    assert.deepEqual(onA.process.held, { longpoll: 2, stream: 0, total: 2 });
    const onB = await eventually(() => stats(run.url, b1.agent), (s) => s.held.total === 3, COUNTED_MS);
    assert.deepEqual(onB.process.held, { longpoll: 0, stream: 1, total: 1 });
    const metrics = (await send(`${run.url}/metrics`, { agent: a2.agent })).text;
    assert.match(metrics, /^holdpush_held\{kind="longpoll"\} 2$/m);
    assert.match(metrics, /^holdpush_held\{kind="stream"\} 1$/m);
    assert.match(metrics, /^holdpush_held\{kind="longpoll",scope="process"\} 2$/m);
    assert.match(metrics, /^holdpush_held\{kind="stream",scope="process"\} 0$/m);

    // Published on the worker that holds only the stream: 201, and every subscriber gets it.
    const published = await send(`${run.url}/pub/count`, { agent: b1.agent, method: 'POST', body: 'all' });
    assert.equal(published.status, 201);
    for (const poll of polls) assert.equal((await poll).text, 'all');
    await stream.waitFor('data: all');
    stream.close();
  });

  test('201 and delivered count subscribers held by the other worker; 202 once they are gone', async () => {
    const [a0, a1] = a as [Pinned, Pinned];
    const [b0, b1] = b as [Pinned, Pinned];
    const poll = send(`${run.url}/sub/elsewhere`, { agent: a0.agent });
    await eventually(() => subscribers(run.url, 'elsewhere', b1.agent), (n) => n === 1, COUNTED_MS);
    assert.equal((await send(`${run.url}/pub/elsewhere`, { agent: b1.agent, method: 'POST', body: 'x' })).status, 201);
    assert.equal((await poll).text, 'x');
    await eventually(() => subscribers(run.url, 'elsewhere', b1.agent), (n) => n === 0, COUNTED_MS);
    assert.equal((await send(`${run.url}/pub/elsewhere`, { agent: b1.agent, method: 'POST', body: 'y' })).status, 202);

    // A person on both workers: /send from a third connection counts both tabs. (A worker's
    // figures and counts leave together; the counts are relayed first.)
    await eventually(() => stats(run.url, b1.agent), (s) => s.held.total === 0, COUNTED_MS);
    const tabs = [send(`${run.url}/?uid=ann`, { agent: a1.agent }), send(`${run.url}/?uid=ann`, { agent: b0.agent })];
    await eventually(() => stats(run.url, b1.agent), (s) => s.held.total === 2, COUNTED_MS);
    const sent = await sendForm(run.url, 'ann', b1.agent);
    assert.equal(sent.status, 200);
    assert.equal((JSON.parse(sent.text) as { delivered: number }).delivered, 2);
    for (const tab of tabs) assert.equal((await tab).text, 'hi');
  });

  test("a batch's delivered counts, per message, the subscribers the other worker holds on its channel", async () => {
    const [a0] = a as [Pinned];
    const [, b1] = b as [Pinned, Pinned];
    const poll = send(`${run.url}/sub/batched`, { agent: a0.agent });
    await eventually(() => subscribers(run.url, 'batched', b1.agent), (n) => n === 1, COUNTED_MS);
    const body = JSON.stringify({ messages: [{ channel: 'batched', data: 'one' }, { channel: 'unheld', data: 'two' }] });
    const published = await send(`${run.url}/pub`, { agent: b1.agent, method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert.equal(published.status, 200);
    assert.equal((JSON.parse(published.text) as { delivered: number }).delivered, 1);
    assert.equal((await poll).text, 'one');
  });

  test('a worker that dies takes its subscribers out of the counts at once', async () => {
    const [a0] = a as [Pinned];
    const [, b1] = b as [Pinned, Pinned];
    const doomed = send(`${run.url}/sub/doomed`, { agent: a0.agent }).catch(() => null);
    await eventually(() => subscribers(run.url, 'doomed', b1.agent), (n) => n === 1, COUNTED_MS);
    process.kill(a0.pid, 'SIGKILL');
    await doomed;
    assert.equal(await eventually(() => subscribers(run.url, 'doomed', b1.agent), (n) => n === 0, COUNTED_MS), 0);
  });
});

describe('servers on one Redis: counts cover every server', { timeout: 30000 }, () => {
  let redis: RedisServer;
  const children: Child[] = [];

  before(async () => {
    redis = await startRedis();
  });

  after(async () => {
    for (const child of children) await child.stop(2000);
    await redis.stop();
  });

  async function server(...flags: string[]): Promise<string> {
    const child = startCli(['--port', '0', '--host', '127.0.0.1', '--log', 'off', '--redis', redis.url, ...flags]);
    children.push(child);
    return `http://127.0.0.1:${await child.listening}`;
  }

  test('info, 201/202, delivered and /stats from any server; a SIGKILLed server leaves the count when its share expires', async () => {
    const [a, b] = await Promise.all([server('--hold-timeout', '20'), server('--hold-timeout', '20')]);
    const polls = [send(`${a}/sub/news`), send(`${a}/sub/news`)];
    const stream = openStream(`${b}/sub/news`);
    await stream.waitFor(':ok');
    for (const url of [a, b]) assert.equal(await eventually(() => subscribers(url, 'news'), (n) => n === 3, COUNTED_MS), 3);
    const onA = await eventually(() => stats(a), (s) => s.held.total === 3, COUNTED_MS);
    assert.deepEqual(onA.process.held, { longpoll: 2, stream: 0, total: 2 });
    const onB = await eventually(() => stats(b), (s) => s.held.total === 3, COUNTED_MS);
    assert.deepEqual(onB.process.held, { longpoll: 0, stream: 1, total: 1 });
    assert.match((await send(`${b}/metrics`)).text, /^holdpush_held\{kind="longpoll"\} 2$/m);

    assert.equal((await send(`${b}/pub/news`, { method: 'POST', body: 'one' })).status, 201);
    for (const poll of polls) assert.equal((await poll).text, 'one');
    await stream.waitFor('data: one');
    stream.close();
    await eventually(() => subscribers(b, 'news'), (n) => n === 0, COUNTED_MS);
    assert.equal((await send(`${b}/pub/news`, { method: 'POST', body: 'two' })).status, 202);

    const tabs = [send(`${a}/?uid=bob`), send(`${a}/?uid=bob`)];
    await eventually(() => stats(b), (s) => s.held.total === 2, COUNTED_MS);
    const sent = await sendForm(b, 'bob');
    assert.equal((JSON.parse(sent.text) as { delivered: number }).delivered, 2);
    for (const tab of tabs) assert.equal((await tab).text, 'hi');

    // A third server with two subscribers dies without a word: its share expires with its heartbeat.
    const c = startCli(['--port', '0', '--host', '127.0.0.1', '--log', 'off', '--redis', redis.url]);
    const cUrl = `http://127.0.0.1:${await c.listening}`;
    const doomed = [send(`${cUrl}/sub/fleeting`).catch(() => null), send(`${cUrl}/sub/fleeting`).catch(() => null)];
    await eventually(() => subscribers(a, 'fleeting'), (n) => n === 2, COUNTED_MS);
    c.process.kill('SIGKILL');
    await c.exited;
    await Promise.all(doomed);
    assert.equal(await eventually(() => subscribers(a, 'fleeting'), (n) => n === 0, 10000), 0);
    assert.equal((await stats(a)).held.total, 0);
  });

  test('a re-poll costs Redis no presence command: N re-polls, counted in INFO commandstats', async (t) => {
    const own = await startRedis();
    const child = startCli(['--port', '0', '--host', '127.0.0.1', '--log', 'off', '--redis', own.url, '--hold-timeout', '0.05']);
    children.push(child);
    const url = `http://127.0.0.1:${await child.listening}`;
    const { createClient } = loadRedis() as unknown as { createClient(options: unknown): RedisClientLike & { close?(): Promise<unknown> } };
    const client = createClient({ url: own.url });
    client.on('error', () => undefined);
    await client.connect();
    async function calls(): Promise<Map<string, number>> {
      const info = String(await client.sendCommand(['INFO', 'commandstats']));
      const counts = new Map<string, number>();
      for (const match of info.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm)) counts.set(match[1] as string, Number(match[2]));
      return counts;
    }
    try {
      // Five clients re-poll, each on its own keep-alive connection: a hold, a timeout, a hold again.
      const { Agent: HttpAgent } = await import('node:http');
      const agents = Array.from({ length: 5 }, () => new HttpAgent({ keepAlive: true, maxSockets: 1 }));
      // Each client comes back from where it was, as a real one does (its ETag).
      const positions = await Promise.all(agents.map(async (agent) => (await send(`${url}/sub/steady`, { agent })).headers.etag as string));
      const before = await calls();
      const started = Date.now();
      let repolls = 0;
      await Promise.all(
        agents.map(async (agent, n) => {
          for (let i = 0; i < 40; i++) {
            const reply = await send(`${url}/sub/steady`, { agent, headers: { 'If-None-Match': positions[n] as string } });
            assert.equal(reply.status, 408);
            repolls += 1;
          }
        }),
      );
      const seconds = (Date.now() - started) / 1000;
      const afterwards = await calls();
      for (const agent of agents) agent.destroy();
      const delta = (name: string) => (afterwards.get(name) ?? 0) - (before.get(name) ?? 0);
      // PEXPIRE and XADD come only from the presence tick here (no message is published):
      // two PEXPIREs per tick, one XADD per tick that found a count changed.
      const ticks = delta('pexpire') / 2;
      const writes = delta('xadd');
      const scripts = delta('evalsha') + delta('eval');
      t.diagnostic(`${repolls} re-polls in ${seconds.toFixed(1)} s: ${scripts} scripts (${((scripts - ticks) / repolls).toFixed(2)} per re-poll: the store's touch, read and confirming read; plus ${ticks} presence ticks), ${writes} presence change writes`);
      assert.ok(ticks >= 1, 'the presence ticks are counted (commands inside scripts count)');
      assert.ok(ticks <= seconds * 2 + 2, `presence ticks follow the clock, not the re-polls: ${ticks}`);
      assert.ok(writes <= ticks, `at most one change write per tick, whatever the re-polls: ${writes} for ${repolls} re-polls`);
      assert.equal(repolls, 200);
      assert.ok((scripts - ticks) / repolls <= 3.1, `the store's own scripts per re-poll (touch, read, confirming read): ${scripts - ticks}`);
    } finally {
      await client.close?.();
      await child.stop(2000);
      await own.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, waitFor } from './support/wait';

const root = join(__dirname, '..');

interface Sub {
  i: number;
  idle: boolean;
}
interface Subscribers {
  subs: Sub[];
  make(i: number): { connect(): unknown };
  poll(u: Sub): void;
  stop(): void;
  stats: { errors: number; closed: number; pings: number; statuses: Record<string, number> };
}
interface Job {
  host: string;
  port: number;
}
interface Handlers {
  onMessage(u: Sub, seq: number): void;
  policy(u: Sub): string;
}
const { makeSubscribers } = require('../scripts/bench-socketio.js') as { makeSubscribers(job: Job, subPath: string, opts: Handlers): Subscribers };
const { messageBody } = require('../scripts/bench-lib.js') as { messageBody(seq: number, size: number): string };

async function startServer(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(root, 'scripts', 'bench-socketio-server.js'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}): ${out}`));
    });
  });
  return { child, port };
}

async function info(port: number, ch: string): Promise<{ subscribers: number; sockets: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/pub/${ch}`);
  return (await res.json()) as { subscribers: number; sockets: number };
}

// The bench's Socket.IO client (scripts/bench-socketio.js) against the bench's Socket.IO server,
// with a ping every 50 ms: the server sends the next one only once the last was answered, and
// its ping timeout (20 s) is longer than the test, so a session that ends early was closed by
// the client.
test('the bench Socket.IO polling client answers pings, gets every message once, and closes its sessions', { timeout: 30_000 }, async () => {
  const { child, port } = await startServer(['--ping-interval', '50']);
  const n = 4;
  const messages = 20;
  const got = Array.from({ length: n }, () => new Map<number, number>());
  const S = makeSubscribers({ host: '127.0.0.1', port }, '/socket.io/?EIO=4&transport=polling&channel=pings', {
    onMessage: (u, seq) => got[u.i]?.set(seq, (got[u.i]?.get(seq) ?? 0) + 1),
    // Half re-poll at once, half wait to be told (W1 deferred), so both paths meet pings.
    policy: (u) => (u.i % 2 === 0 ? 'now' : 'later'),
  });
  try {
    for (let i = 0; i < n; i++) S.make(i).connect();
    await eventually(() => info(port, 'pings'), (v) => v.subscribers === n, 10_000, 'every subscriber held');
    for (let k = 1; k <= messages; k++) {
      const res = await fetch(`http://127.0.0.1:${port}/pub/pings`, { method: 'POST', body: messageBody(k, 64) });
      assert.equal(res.status, 201);
      await waitFor(() => got.every((m) => m.has(k)), 10_000, `message ${k} at every subscriber`);
      for (const u of S.subs) if (u.idle) S.poll(u);
      // Halfway, stay until several rounds of pings have been answered.
      if (k === messages / 2) await waitFor(() => S.stats.pings >= 4 * n, 10_000, () => `pings answered (${S.stats.pings})`);
    }
    await eventually(() => info(port, 'pings'), (v) => v.subscribers === n && v.sockets === n, 10_000, 'every session alive and held');
    assert.ok(S.stats.pings >= 4 * n, `pings ${S.stats.pings}`);
    assert.deepEqual({ errors: S.stats.errors, closed: S.stats.closed, statuses: S.stats.statuses }, { errors: 0, closed: 0, statuses: {} });
    for (const m of got) assert.deepEqual([...m.entries()], Array.from({ length: messages }, (_, j) => [j + 1, 1]));
    // The odd ones are idle now (no poll held, so a dropped connection would not end their
    // sessions): stop ends every session with a close packet.
    const last = await fetch(`http://127.0.0.1:${port}/pub/pings`, { method: 'POST', body: messageBody(messages + 1, 64) });
    assert.equal(last.status, 201);
    await waitFor(() => got.every((m) => m.has(messages + 1)), 10_000, 'the last message everywhere');
    assert.ok(S.subs.some((u) => u.idle));
    S.stop();
    await eventually(() => info(port, 'pings'), (v) => v.sockets === 0, 5_000, 'every session closed');
  } finally {
    S.stop();
    child.kill('SIGKILL');
  }
});

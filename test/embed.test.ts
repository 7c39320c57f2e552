import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHoldpush } from '../lib/index';
import { heldAt, request, until } from './support/http';

const root = join(__dirname, '..');

/** Starts a fixture app as its own process and resolves with its port once it listens. */
function startFixture(file: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', file)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) resolve({ child, url: `http://127.0.0.1:${match[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${out}`)));
  });
}

function stopFixture(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

for (const [name, file, home] of [
  ['a legacy CommonJS http.createServer app', 'legacy-app.js', 'legacy home'],
  ['an Express app', 'express-app.js', 'express home'],
] as const) {
  describe(`embedded in ${name}`, () => {
    let app: { child: ChildProcess; url: string };
    before(async () => {
      app = await startFixture(file);
    });
    after(async () => {
      assert.equal(await stopFixture(app.child), 0);
    });

    test('its own routes still answer, holdpush answers under its prefix', async () => {
      assert.equal((await request(`${app.url}/`)).text, home);
      const page = await request(`${app.url}/push/send`);
      assert.equal(page.status, 200);
      assert.match(page.text, /<form/);
      const waiting = request(`${app.url}/push/sub/news`, { headers: { Accept: 'application/json' } });
      await heldAt(`${app.url}/push`, 1);
      const pub = await request(`${app.url}/push/pub/news`, { method: 'POST', body: 'hi' });
      assert.equal(pub.status, 201);
      const got = (await waiting).json() as { messages: { data: string }[] };
      assert.deepEqual(got.messages.map((m) => m.data), ['hi']);
      const sent = await request(`${app.url}/push/send`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'text/html' }, body: '{"message":"x"}' });
      assert.equal(sent.status, 303);
      assert.match(String(sent.headers.location), /^\/push\/send\?sent=/);
    });
  });
}

test('the legacy app publishes through the API', async () => {
  const app = await startFixture('legacy-app.js');
  try {
    const waiting = request(`${app.url}/push/sub/news`);
    await heldAt(`${app.url}/push`, 1);
    const notified = await request(`${app.url}/notify`, { method: 'POST' });
    assert.equal((notified.json() as { delivered: number }).delivered, 1);
    assert.equal((await waiting).text, 'from the legacy app');
  } finally {
    await stopFixture(app.child);
  }
});

test('import works from an ES module', () => {
  const out = execFileSync(process.execPath, [join(__dirname, 'fixtures', 'esm-import.mjs')], { cwd: root }).toString();
  const result = JSON.parse(out) as { named: string; default: string; id: string; shape: string };
  assert.equal(result.named, 'function');
  assert.equal(result.default, 'function');
  assert.match(result.id, /^\d+:.+/);
  assert.equal(result.shape, '0:t');
});

describe('attach(server) and handle(req, res)', () => {
  test('attach adds one listener, serves, and its undo removes exactly it', async () => {
    const server = createServer();
    const holdpush = createHoldpush({ log: 'off' });
    const before = server.listenerCount('request');
    const detach = holdpush.attach(server);
    assert.equal(server.listenerCount('request'), before + 1);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await request(`${url}/healthz`)).text, 'ok');
      const missing = await request(`${url}/elsewhere`);
      assert.equal(missing.status, 404);
      assert.equal((missing.json() as { error: string }).error, 'not_found');
      detach();
      assert.equal(server.listenerCount('request'), before);
    } finally {
      await holdpush.close();
      assert.equal(server.listening, true, 'holdpush never closes a server it did not create');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('handle returns false for routes that are not holdpush, touching nothing', async () => {
    const holdpush = createHoldpush({ log: 'off', prefix: '/push' });
    const server = createServer((req, res) => {
      if (holdpush.handle(req, res)) return;
      res.end(`app:${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/pushy', '/push/nothing-here']) {
        const reply = await request(`${url}${path}`);
        assert.equal(reply.text, `app:${path}`);
        assert.equal(reply.headers['access-control-allow-origin'], undefined, 'holdpush set a header on a route it let go');
        assert.equal(reply.headers['cache-control'], undefined, 'holdpush set a header on a route it let go');
      }
      const bare = await request(`${url}/push?for=7`);
      assert.equal(bare.status, 308, 'the page at the bare prefix would load its files from outside the mount');
      assert.equal(bare.headers.location, '/push/?for=7');
      assert.equal((await request(`${url}/push/`)).status, 200);
      const waiting = request(`${url}/push/?uid=7`);
      await until(() => holdpush.stats().held.total === 1);
      assert.equal((await holdpush.publish('uid:7', 'seven')).delivered, 1);
      assert.equal((await waiting).text, 'seven');
    } finally {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('with the memory store a long-poll is answered or held by the time handle() returns', async () => {
    const holdpush = createHoldpush({ log: 'off' });
    // What an app could rely on right after handing a request over: for each request, whether
    // its answer was complete, and how many long-polls were held.
    const atReturn: { ended: boolean; held: number }[] = [];
    const server = createServer((req, res) => {
      holdpush.handle(req, res);
      atReturn.push({ ended: res.writableEnded, held: holdpush.stats().held.longpoll });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await holdpush.publish('ready', 'waiting already');
      assert.equal((await request(`${url}/sub/ready`)).text, 'waiting already');
      const waiting = request(`${url}/sub/later`);
      await until(() => atReturn.length === 2);
      assert.deepEqual(atReturn, [
        { ended: true, held: 0 },
        { ended: false, held: 1 },
      ]);
      assert.equal((await holdpush.publish('later', 'next')).delivered, 1);
      assert.equal((await waiting).text, 'next');
    } finally {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('bad options throw a TypeError at construction; publish() checks its target', async () => {
    assert.throws(() => createHoldpush({ holdTimeout: -1 }), TypeError);
    assert.throws(() => createHoldpush({ prefix: 'push/' }), TypeError);
    assert.throws(() => createHoldpush({ publishAllow: ['not-an-address'] }), TypeError);
    assert.throws(() => createHoldpush({ firstMessage: 'middle' as 'oldest' }), TypeError);
    const holdpush = createHoldpush({ log: 'off', maxMessage: 4 });
    try {
      await assert.rejects(holdpush.publish('a/b', 'x'), TypeError);
      await assert.rejects(holdpush.publish('uid:a b', 'x'), TypeError);
      await assert.rejects(holdpush.publish('ok', 'too long'), RangeError);
      const bytes = await holdpush.publish('ok', new Uint8Array([1, 2, 3]));
      assert.match(bytes.id, /^\d+:/);
    } finally {
      await holdpush.close();
    }
  });

});

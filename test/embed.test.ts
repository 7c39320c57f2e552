import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { type IncomingMessage, Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliDefaults } from '../lib/cli/flags';
import { type CreateHoldpushOptions, type Holdpush, createHoldpush, createHoldpushServer, defaultOptions } from '../lib/index';
import { type Reply, type RequestOptions, request, until } from './support/http';

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
      await new Promise((resolve) => setTimeout(resolve, 100));
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
    await new Promise((resolve) => setTimeout(resolve, 100));
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

  test('bad options throw a TypeError at construction; publish() checks its target and size', async () => {
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

/** A server on port 0 whose requests go to `handler`; closed with its holdpush. */
async function serve(holdpush: Holdpush, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A request owed an answer within 2 s: past that the test fails instead of hanging. */
function owed(url: string, options: RequestOptions = {}): Promise<Reply> {
  return request(url, { ...options, signal: AbortSignal.timeout(2000) });
}

type WithBody = IncomingMessage & { body?: unknown };

describe('a body an app read before holdpush (no framework: the app plays the parser)', () => {
  let holdpush: Holdpush;
  let app: { url: string; close(): Promise<void> };
  /** Listener counts of the last request handed over after its client had gone. */
  let afterGone: { data: number; close: number } | undefined;
  let goneArrived = false;
  before(async () => {
    holdpush = createHoldpush({ maxMessage: 16, holdTimeout: 1 });
    app = await serve(holdpush, (req: WithBody, res) => {
      const how = new URL(req.url ?? '/', 'http://app').searchParams.get('app');
      if (how === 'untouched') {
        holdpush.handle(req, res);
        return;
      }
      if (how === 'placeholder') {
        // body-parser 1 on a type it skips: `{}` on req.body, the stream unread.
        req.body = {};
        holdpush.handle(req, res);
        return;
      }
      if (how === 'gone') {
        goneArrived = true;
        req.once('close', () => {
          holdpush.handle(req, res);
          afterGone = { data: req.listenerCount('data'), close: req.listenerCount('close') };
        });
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        if (how === 'buffer') req.body = raw;
        else if (how === 'text') req.body = raw.toString('latin1');
        else if (how === 'object') req.body = raw.length === 0 ? {} : (JSON.parse(raw.toString()) as unknown);
        holdpush.handle(req, res);
      });
    });
  });
  after(() => app.close());

  async function published(channel: string): Promise<Buffer> {
    const got = await owed(`${app.url}/sub/${channel}`);
    assert.equal(got.status, 200, got.text);
    return got.body;
  }

  test('read, with nothing left on req.body: 400 body_consumed at once, nothing published', async () => {
    const refused = await owed(`${app.url}/pub/none?app=read`, { method: 'POST', body: 'words' });
    assert.equal(refused.status, 400);
    const body = refused.json() as { error: string; message: string };
    assert.equal(body.error, 'body_consumed');
    assert.match(body.message, /mount holdpush before the body parser/);
    assert.equal((await owed(`${app.url}/pub/none`)).status, 404);
  });

  test('an object left on req.body: /pub refuses it (400 body_consumed), /send takes its fields', async () => {
    const refused = await owed(`${app.url}/pub/obj?app=object`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    assert.equal(refused.status, 400);
    assert.equal((refused.json() as { error: string }).error, 'body_consumed');
    const waiting = owed(`${app.url}/?uid=9`);
    await until(() => holdpush.stats().held.total === 1, 2000, 'the hold');
    const sent = await owed(`${app.url}/send?app=object`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: '{"message":"taken","uid":"9"}' });
    assert.equal(sent.status, 200, sent.text);
    assert.equal((sent.json() as { delivered: number }).delivered, 1);
    assert.equal((await waiting).text, 'taken');
  });

  test('bytes left on req.body are the body; text turns back into bytes by its charset', async () => {
    const bytes = Buffer.from([0, 0xe9, 0xff]);
    assert.equal((await owed(`${app.url}/pub/buf?app=buffer`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes })).status, 202);
    assert.deepEqual(await published('buf'), bytes);
    const latin1 = Buffer.from('caf\u00e9', 'latin1');
    assert.equal((await owed(`${app.url}/pub/txt?app=text`, { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=iso-8859-1' }, body: latin1 })).status, 202);
    assert.deepEqual(await published('txt'), latin1);
    const big = await owed(`${app.url}/pub/big?app=buffer`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(17) });
    assert.equal(big.status, 413);
  });

  test('a request that declared no body publishes an empty message, whatever the parser made of it', async () => {
    const empty = await owed(`${app.url}/pub/empty?app=object`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': 0 } });
    assert.equal(empty.status, 202, empty.text);
    assert.equal((await published('empty')).length, 0);
  });

  test('a body nobody read is read as usual, even with a placeholder on req.body', async () => {
    for (const how of ['untouched', 'placeholder']) {
      const reply = await owed(`${app.url}/pub/${how}?app=${how}`, { method: 'POST', body: `from ${how}` });
      assert.equal(reply.status, 202, reply.text);
      assert.equal((await published(how)).toString(), `from ${how}`);
    }
  });

  test('a request whose client left before it reached holdpush is not waited for', async () => {
    const aborted = new AbortController();
    const sending = request(`${app.url}/send?app=gone`, { method: 'POST', headers: { 'Content-Length': 10 }, body: 'part', signal: aborted.signal });
    await until(() => goneArrived, 2000, 'the request to arrive');
    aborted.abort();
    await assert.rejects(sending);
    await until(() => afterGone !== undefined, 2000, 'the request handed over');
    assert.deepEqual(afterGone, { data: 0, close: 0 }, 'holdpush listened for events that had already fired');
  });
});

describe('options are checked by name', () => {
  test('an unknown option throws a TypeError naming it, with the option it resembles', () => {
    assert.throws(() => createHoldpush({ holdTimeot: 5 } as CreateHoldpushOptions), { name: 'TypeError', message: 'unknown option holdTimeot (did you mean holdTimeout?)' });
    assert.throws(() => createHoldpush({ 'hold-timeout': 5 } as CreateHoldpushOptions), { name: 'TypeError', message: 'unknown option hold-timeout (did you mean holdTimeout?)' });
    assert.throws(() => createHoldpush({ publishtoken: 'x' } as CreateHoldpushOptions), /did you mean publishToken\?/);
    assert.throws(() => createHoldpush({ somethingElse: 1 } as CreateHoldpushOptions), { name: 'TypeError', message: 'unknown option somethingElse' });
    assert.throws(() => createHoldpush({ toString: 1 } as CreateHoldpushOptions), { name: 'TypeError', message: /^unknown option toString/ });
  });

  test("the command's flags that are not options say what does their work", () => {
    for (const name of ['port', 'host', 'workers', 'redis']) {
      assert.throws(() => createHoldpush({ [name]: 1 } as CreateHoldpushOptions), { name: 'TypeError', message: new RegExp(`^${name} is not an option of createHoldpush: `) });
    }
    assert.throws(() => createHoldpush({ redis: 'redis://127.0.0.1:6379' } as CreateHoldpushOptions), /Redis goes through the store option/);
    assert.throws(() => createHoldpush({ port: 8080 } as CreateHoldpushOptions), /createHoldpushServer\(\) returns one/);
    assert.throws(() => createHoldpushServer({ port: 8080 } as CreateHoldpushOptions), TypeError);
  });

  test('options must be an object; every documented option is taken', async () => {
    assert.throws(() => createHoldpush(null as unknown as CreateHoldpushOptions), { name: 'TypeError', message: 'options must be an object' });
    assert.throws(() => createHoldpush('fast' as unknown as CreateHoldpushOptions), TypeError);
    const all = { ...defaultOptions, store: undefined, publicDir: undefined, logWrite: undefined } satisfies Required<Record<keyof CreateHoldpushOptions, unknown>>;
    await createHoldpush(all).close();
  });
});

describe('publish() rejects, it never throws', () => {
  const holdpush = createHoldpush();
  after(() => holdpush.close());
  const publish = holdpush.publish as (...args: unknown[]) => Promise<unknown>;

  for (const [what, args, message] of [
    ['a bad channel name', ['bad name', 'x'], /^not a channel name: "bad name"/],
    ['a bad uid', ['uid:a b', 'x'], /^not a uid: "a b"/],
    ['a target that is no string', [42, 'x'], /^publish target must be a string .*got number 42$/],
    ['no target', [undefined, 'x'], /^publish target must be a string .*got undefined$/],
    ['an object as data', ['news', { a: 1 }], /^publish data must be a string or a Uint8Array \(a Buffer\), got an object: JSON\.stringify it/],
    ['a number as data', ['news', 5], /got number 5$/],
    ['no data', ['news', undefined], /got undefined$/],
    ['options that are no object', ['news', 'x', 'text/plain'], /^publish options must be an object, got "text\/plain"$/],
    ['a content type that is no header value', ['news', 'x', { contentType: 'a\r\nb' }], /^contentType must be a header value/],
    ['a content type that is no string', ['news', 'x', { contentType: 7 }], /^contentType must be a header value, got number 7$/],
    ['an event name of two lines', ['news', 'x', { event: 'a\nb' }], /^event must be one line/],
  ] as const) {
    test(what, async () => {
      let result: unknown;
      assert.doesNotThrow(() => {
        result = publish(...args);
      });
      assert.ok(result instanceof Promise);
      await assert.rejects(result, (error: Error) => error instanceof TypeError && message.test(error.message));
    });
  }

  test('nothing was published by the calls refused', () => {
    assert.equal(holdpush.stats().messages.published, 0);
  });
});

test('createHoldpushServer() returns { server, holdpush }: a node:http server, not yet listening, and its holdpush', async () => {
  const made = createHoldpushServer();
  assert.deepEqual(Object.keys(made).sort(), ['holdpush', 'server']);
  const { server, holdpush } = made;
  assert.ok(server instanceof Server);
  assert.equal(server.listening, false);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const waiting = owed(`${url}/sub/made`);
    await until(() => holdpush.stats().held.total === 1, 2000, 'the hold');
    assert.equal((await holdpush.publish('made', 'served')).delivered, 1);
    assert.equal((await waiting).text, 'served');
  } finally {
    await holdpush.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("an embedded instance logs nothing unless asked; the command logs text", async () => {
  assert.equal(defaultOptions.log, 'off');
  assert.equal(cliDefaults.log, 'text');
  const quiet: string[] = [];
  const asked: string[] = [];
  const silent = createHoldpush({ prefix: '/quiet', logWrite: (line) => quiet.push(line) });
  const loud = createHoldpush({ prefix: '/loud', log: 'text', logWrite: (line) => asked.push(line) });
  assert.equal(silent.options.log, 'off');
  const app = await serve(silent, (req, res) => {
    if (!silent.handle(req, res)) loud.handle(req, res);
  });
  try {
    assert.equal((await owed(`${app.url}/quiet/healthz`)).text, 'ok');
    assert.equal((await owed(`${app.url}/loud/healthz`)).text, 'ok');
    await until(() => asked.length === 1, 2000, 'the asked-for line');
    assert.match(asked[0] as string, / GET \/loud\/healthz 200 /);
    assert.deepEqual(quiet, []);
  } finally {
    await loud.close();
    await app.close();
  }
});

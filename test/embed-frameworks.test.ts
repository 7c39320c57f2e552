/**
 * The examples in examples/, run for real: holdpush inside a plain node:http app, Express 4 and
 * 5, Koa and Fastify, with their body parsers before and after it (once, a body parser
 * before holdpush made a publish hang). No request here waits more than OWED_MS for an answer
 * it is owed: past that it fails instead of hanging.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Holdpush, createHoldpush } from '../lib/index';
import { type Reply, type RequestOptions, openStream, request, until } from './support/http';

const root = join(__dirname, '..');
const OWED_MS = 2000;
const T = { timeout: 15_000 };

interface RunningExample {
  readonly url: string;
  readonly push: Holdpush;
  close(): Promise<void>;
}

interface Example {
  start(port: number, options?: Record<string, unknown>): Promise<RunningExample>;
}

function example(name: string): Example {
  return require(join(root, 'examples', `${name}.js`)) as Example;
}

/** A request owed an answer within OWED_MS. */
async function owed(url: string, options: RequestOptions = {}): Promise<Reply> {
  try {
    return await request(url, { ...options, signal: AbortSignal.timeout(OWED_MS) });
  } catch (error) {
    throw new Error(`${options.method ?? 'GET'} ${url}: no answer within ${OWED_MS} ms (${String(error)})`);
  }
}

function post(url: string, type: string, body: string | Buffer, accept = '*/*'): Promise<Reply> {
  return owed(url, { method: 'POST', headers: { 'Content-Type': type, Accept: accept }, body });
}

/** Waits until the app holds `count` subscribers (a hold is in place before its publish). */
function holding(app: RunningExample, count: number): Promise<void> {
  return until(() => app.push.stats().held.total === count, OWED_MS, `${count} held`);
}

function errorOf(reply: Reply): { error: string; message: string } {
  return reply.json() as { error: string; message: string };
}

const express4 = require('express') as unknown;
const express5 = require('express5') as unknown;

const APPS = [
  { title: 'a plain CommonJS http.createServer app', file: 'http', options: {} },
  { title: 'Express 4', file: 'express', options: { express: express4 } },
  { title: 'Express 5', file: 'express', options: { express: express5 } },
  { title: 'Koa', file: 'koa', options: {} },
  { title: 'Fastify', file: 'fastify', options: {} },
] as const;

test('the frameworks are the versions named', () => {
  assert.match((require('express/package.json') as { version: string }).version, /^4\./);
  assert.match((require('express5/package.json') as { version: string }).version, /^5\./);
});

test("the examples' require('holdpush') is this package's build", () => {
  assert.equal(require.resolve('holdpush', { paths: [join(root, 'examples')] }), join(root, 'dist', 'index.js'));
});

for (const { title, file, options } of APPS) {
  describe(`holdpush in ${title} (examples/${file}.js)`, () => {
    let app: RunningExample;
    before(async () => {
      app = await example(file).start(0, { ...options, holdpush: { holdTimeout: 1 } });
    });
    after(() => app.close());

    test("the app's own routes answer beside holdpush's", T, async () => {
      const home = await owed(`${app.url}/`);
      assert.equal(home.status, 200);
      assert.match(home.text, /My app/);
      assert.equal((await owed(`${app.url}/push/healthz`)).text, 'ok');
      const page = await owed(`${app.url}/push/send`);
      assert.equal(page.status, 200);
      assert.match(page.text, /<form/);
    });

    test('long-poll: a JSON publish reaches a held request', T, async () => {
      const waiting = owed(`${app.url}/push/sub/poll`);
      await holding(app, 1);
      const published = await post(`${app.url}/push/pub/poll`, 'application/json', '{"n":1}');
      assert.equal(published.status, 201, published.text);
      const got = await waiting;
      assert.equal(got.text, '{"n":1}');
      assert.equal(got.headers['content-type'], 'application/json');
    });

    test("EventSource: the app's own route publishes (its body parser intact) to an open stream", T, async () => {
      const stream = openStream(`${app.url}/push/sub/news`);
      try {
        await holding(app, 1);
        const sent = await post(`${app.url}/api/news`, 'application/json', '{"headline":"hi"}');
        assert.equal(sent.status, 200, sent.text);
        assert.equal((sent.json() as { delivered: number }).delivered, 1);
        await stream.waitFor('data: {"headline":"hi"}\n\n', OWED_MS);
      } finally {
        stream.close();
      }
      await holding(app, 0);
    });

    test('batch: bytes published as sent', T, async () => {
      const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      const waiting = owed(`${app.url}/push/sub/batch`, { headers: { Accept: 'application/json' } });
      await holding(app, 1);
      const published = await post(`${app.url}/push/pub/batch`, 'application/octet-stream', bytes);
      assert.equal(published.status, 201, published.text);
      const [message] = ((await waiting).json() as { messages: { data: string; encoding?: string }[] }).messages;
      assert.ok(message !== undefined);
      assert.deepEqual(Buffer.from(message.data, message.encoding === 'base64' ? 'base64' : 'utf8'), bytes);
    });

    test('/send: a urlencoded form reaches its uid', T, async () => {
      const waiting = owed(`${app.url}/push/?uid=7`);
      await holding(app, 1);
      const sent = await post(`${app.url}/push/send`, 'application/x-www-form-urlencoded', 'message=hello+there&uid=7', 'application/json');
      assert.equal(sent.status, 200, sent.text);
      assert.equal((sent.json() as { delivered: number }).delivered, 1);
      assert.equal((await waiting).text, 'hello there');
    });
  });
}

const PARSERS_FIRST = [
  { title: 'Express 4 with express.json(), urlencoded() and raw()', file: 'express', options: { express: express4 } },
  { title: 'Express 5 with express.json(), urlencoded() and raw()', file: 'express', options: { express: express5 } },
  { title: 'Koa with @koa/bodyparser', file: 'koa', options: {} },
] as const;

for (const { title, file, options } of PARSERS_FIRST) {
  describe(`${title} mounted before holdpush`, () => {
    let app: RunningExample;
    before(async () => {
      app = await example(file).start(0, { ...options, parsersFirst: true, holdpush: { holdTimeout: 1 } });
    });
    after(() => app.close());

    test('a JSON publish the parser read is answered at once: 400 body_consumed, nothing published', T, async () => {
      const refused = await post(`${app.url}/push/pub/parsed`, 'application/json', '{"n":1}');
      assert.equal(refused.status, 400);
      assert.equal(errorOf(refused).error, 'body_consumed');
      assert.match(errorOf(refused).message, /mount holdpush before the body parser/);
      assert.equal((await owed(`${app.url}/push/pub/parsed`)).status, 404);
    });

    test('a body the parsers skip is read as usual (long-poll)', T, async () => {
      const waiting = owed(`${app.url}/push/sub/text`);
      await holding(app, 1);
      const published = await post(`${app.url}/push/pub/text`, 'text/plain; charset=utf-8', 'plain words');
      assert.equal(published.status, 201, published.text);
      assert.equal((await waiting).text, 'plain words');
    });

    test('bytes of application/octet-stream are published as sent (EventSource)', T, async () => {
      const stream = openStream(`${app.url}/push/sub/raw`);
      try {
        await holding(app, 1);
        const published = await post(`${app.url}/push/pub/raw`, 'application/octet-stream', 'raw bytes');
        assert.equal(published.status, 201, published.text);
        await stream.waitFor('data: raw bytes\n\n', OWED_MS);
      } finally {
        stream.close();
      }
      await holding(app, 0);
    });

    test("/send takes the form from the parser's object: urlencoded and JSON", T, async () => {
      for (const [type, body] of [
        ['application/x-www-form-urlencoded', 'message=from+a+form&uid=8'],
        ['application/json', '{"message":"from JSON","uid":"8"}'],
      ] as const) {
        const waiting = owed(`${app.url}/push/?uid=8`);
        await holding(app, 1);
        const sent = await post(`${app.url}/push/send`, type, body, 'application/json');
        assert.equal(sent.status, 200, sent.text);
        assert.equal((sent.json() as { delivered: number }).delivered, 1);
        assert.equal((await waiting).text, body.startsWith('{') ? 'from JSON' : 'from a form');
        await holding(app, 0);
      }
    });

    test("/send checks the parser's fields: a message that is no string is 400 bad_body, none is 400 missing_message", T, async () => {
      const bad = await post(`${app.url}/push/send`, 'application/json', '{"message":5}', 'application/json');
      assert.equal(bad.status, 400);
      assert.equal(errorOf(bad).error, 'bad_body');
      const missing = await post(`${app.url}/push/send`, 'application/x-www-form-urlencoded', 'uid=8', 'application/json');
      assert.equal(missing.status, 400);
      assert.equal(errorOf(missing).error, 'missing_message');
    });
  });
}

describe('Fastify with holdpush inside a route, after Fastify read the body', () => {
  let url: string;
  let push: Holdpush;
  let close: () => Promise<void>;
  before(async () => {
    const fastify = require('fastify') as (options?: object) => {
      all(path: string, handler: (request: { raw: never }, reply: { raw: never; hijack(): void; callNotFound(): void }) => void): void;
      listen(options: { port: number; host: string }): Promise<string>;
      close(): Promise<void>;
    };
    push = createHoldpush({ prefix: '/push', holdTimeout: 1 });
    const app = fastify();
    app.all('/push/*', (request, reply) => {
      if (push.handle(request.raw, reply.raw)) reply.hijack();
      else reply.callNotFound();
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    close = async () => {
      await push.close();
      await app.close();
    };
  });
  after(() => close());

  test('every publish with a body is refused at once (400 body_consumed): Fastify keeps what it read to itself', T, async () => {
    for (const [type, body] of [
      ['application/json', '{"n":1}'],
      ['text/plain', 'words'],
    ] as const) {
      const refused = await post(`${url}/push/pub/news`, type, body);
      assert.equal(refused.status, 400, type);
      assert.equal(errorOf(refused).error, 'body_consumed');
    }
  });

  test('subscribing still works there', T, async () => {
    const waiting = owed(`${url}/push/sub/news`);
    await until(() => push.stats().held.total === 1, OWED_MS, 'the hold');
    assert.equal((await push.publish('news', 'from the app')).delivered, 1);
    assert.equal((await waiting).text, 'from the app');
  });
});

describe('each example runs on its own: node examples/<name>.js', () => {
  for (const name of ['http', 'express', 'koa', 'fastify']) {
    test(name, T, async () => {
      const child = spawn(process.execPath, [join(root, 'examples', `${name}.js`)], {
        cwd: root,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        await until(() => /listening on (http:\S+)/.test(out), 10_000, `${name} to listen: ${out}`);
        const appUrl = (/listening on (http:\S+)/.exec(out) as RegExpExecArray)[1] as string;
        assert.match((await owed(`${appUrl}/`)).text, /My app/);
        assert.equal((await owed(`${appUrl}/push/healthz`)).text, 'ok');
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0);
    });
  }
});

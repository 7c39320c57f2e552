/**
 * `holdpush/client` as a module, the ways users load it: Node ESM (`import { subscribe }`), Node
 * CommonJS (`require`), a browser `<script type="module">` in real Chromium, and a TypeScript
 * consumer type-checked against the package's `exports`. Each one subscribes to a real server
 * and gets a published message. The files in public/ are built from client/*.ts: the first test
 * fails when they differ from what the build makes.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserSession, browserSkip, eventually, launchBrowser, withTabs } from './support/browser';
import { held, startServer } from './support/http';

const ROOT = join(__dirname, '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildClient } = require('../scripts/build-client.js') as { buildClient(): Record<string, string> };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (killed after `ms`), with its output. */
function run(file: string, args: readonly string[], cwd: string, ms = 15_000, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: ms, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** An empty app that has installed holdpush (node_modules/holdpush links to this repository). */
function makeApp(): string {
  const app = mkdtempSync(join(tmpdir(), 'holdpush-client-app-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(ROOT, join(app, 'node_modules', 'holdpush'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'an-app', private: true }));
  return app;
}

/** A Node program that subscribes to `news` at $BASE, prints the first message as JSON and stops. */
const NODE_SUBSCRIBER = `
  const sub = subscribe(['news', 'alerts'], (message) => {
    process.stdout.write(JSON.stringify({ message, exports: Object.keys(client).sort(), status: sub.status }) + '\\n');
    sub.stop();
  }, { base: process.env.BASE });
`;

describe('holdpush/client', () => {
  let app: string;
  before(() => {
    app = makeApp();
  });
  after(() => {
    rmSync(app, { recursive: true, force: true });
  });

  test('public/holdpush.{js,mjs,d.ts,d.mts} are what scripts/build-client.js makes from client/ (npm run build:client)', () => {
    const built = buildClient();
    assert.deepEqual(Object.keys(built).sort(), ['public/holdpush.d.mts', 'public/holdpush.d.ts', 'public/holdpush.js', 'public/holdpush.mjs']);
    for (const [path, text] of Object.entries(built)) {
      assert.ok(readFileSync(join(ROOT, path), 'utf8') === text, `${path} is out of date: run npm run build:client`);
    }
  });

  test('package.json exports ./client for import, require and types, and npm pack ships every file it names', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    assert.deepEqual(pkg.exports['./client'], {
      import: { types: './public/holdpush.d.mts', default: './public/holdpush.mjs' },
      require: { types: './public/holdpush.d.ts', default: './public/holdpush.js' },
      default: './public/holdpush.mjs',
    });
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const packed = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]?.files.map((file) => file.path));
    for (const path of ['public/holdpush.js', 'public/holdpush.mjs', 'public/holdpush.d.ts', 'public/holdpush.d.mts']) {
      assert.ok(packed.has(path), `${path} is in the package`);
    }
  });

  describe('in Node, against a real server', () => {
    /** Runs `code` in the app, publishes once it is held, and reads what it printed. */
    async function subscribeFrom(file: string, code: string): Promise<{ message: Record<string, unknown>; exports: string[]; status: string }> {
      writeFileSync(join(app, file), code);
      const server = await startServer();
      try {
        const child = run(process.execPath, [file], app, 15_000, { ...process.env, BASE: `${server.url}/` });
        await held(server, 1);
        await server.holdpush.publish('alerts', 'hello from node');
        const done = await child;
        assert.equal(done.code, 0, `${file} exited by itself (no timer or request left behind): ${done.stderr}`);
        await held(server, 0);
        return JSON.parse(done.stdout) as { message: Record<string, unknown>; exports: string[]; status: string };
      } finally {
        await server.close();
      }
    }

    test("ESM: import { subscribe } from 'holdpush/client' gets a published message", async () => {
      const got = await subscribeFrom('esm.mjs', `import * as client from 'holdpush/client';\nimport { subscribe } from 'holdpush/client';\n${NODE_SUBSCRIBER}`);
      assert.deepEqual(got.exports, ['subscribe', 'version']);
      assert.equal(got.message.channel, 'alerts');
      assert.equal(got.message.data, 'hello from node');
      assert.match(String(got.message.id), /^\d+:\S+$/);
      assert.equal(got.status, 'open');
    });

    test("CommonJS: require('holdpush/client') gets a published message", async () => {
      const got = await subscribeFrom('cjs.cjs', `const client = require('holdpush/client');\nconst { subscribe } = client;\n${NODE_SUBSCRIBER}`);
      assert.deepEqual(got.exports, ['subscribe', 'version']);
      assert.equal(got.message.channel, 'alerts');
      assert.equal(got.message.data, 'hello from node');
    });
  });

  describe('TypeScript', () => {
    const consumer = `
      import { subscribe, version, type Message, type StatusDetail, type Subscription } from 'holdpush/client';
      const seen: string[] = [];
      const sub: Subscription = subscribe(['news', 'alerts'], (m: Message) => {
        const text: string = m.data;
        const channel: string | null = m.channel;
        seen.push(text, channel ?? '', m.id ?? '');
      }, {
        base: 'http://127.0.0.1:8888/',
        transport: 'batch',
        backoff: { min: 100, max: 5000 },
        onStatus: (status, detail: StatusDetail) => seen.push(status, String(detail.delay)),
        onGap: (info) => seen.push(info.oldest ?? ''),
      });
      const where: string | null = sub.position;
      sub.stop();
      export const checked = [version, where, subscribe({ uid: '1252473' }, () => undefined).transport];
      // @ts-expect-error: not a transport
      subscribe('news', () => undefined, { transport: 'websocket' });
      // @ts-expect-error: not an option (a typo)
      subscribe('news', () => undefined, { postion: 'x' });
      // @ts-expect-error: a message's data is text
      subscribe('news', (m: Message) => m.data.toFixed());
    `;

    test('a consumer with moduleResolution node16 (ESM and CommonJS files, no DOM types) type-checks, and wrong uses are errors', async () => {
      const dir = join(app, 'node16');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'esm.mts'), consumer);
      writeFileSync(join(dir, 'cjs.cts'), `import client = require('holdpush/client');\nconst sub = client.subscribe('news', (m) => m.data.length, { base: 'http://127.0.0.1:8888/' });\nsub.stop();\n// @ts-expect-error: the target is a name, names, or { uid }\nclient.subscribe(42, () => undefined);\nexport = sub.status;\n`);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', lib: ['ES2022'], types: [], strict: true, noEmit: true, skipLibCheck: false },
        files: ['esm.mts', 'cjs.cts'],
      }));
      const checked = await run(process.execPath, [TSC, '-p', dir], app);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);

      // The same consumer without its @ts-expect-error comments fails on each of those lines.
      writeFileSync(join(dir, 'esm.mts'), consumer.replace(/\/\/ @ts-expect-error[^\n]*/g, ''));
      const wrong = await run(process.execPath, [TSC, '-p', dir], app);
      assert.notEqual(wrong.code, 0);
      assert.deepEqual(wrong.stdout.match(/esm\.mts\(\d+,\d+\): error TS\d+/g)?.length, 3, wrong.stdout);
    });

    test('a consumer with moduleResolution bundler and the DOM passes the real fetch and EventSource, and a plain script sees the global Holdpush', async () => {
      const dir = join(app, 'bundler');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'app.ts'), `${consumer}\nsubscribe('news', () => undefined, { fetch, EventSource, transport: 'eventsource' });\n`);
      writeFileSync(join(dir, 'page.ts'), `/// <reference path="../node_modules/holdpush/public/holdpush.d.ts" />\nconst onPage: Holdpush.Subscription = Holdpush.subscribe('news', (m: Holdpush.Message) => console.log(m.data));\nonPage.stop();\n`);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true, skipLibCheck: false },
        files: ['app.ts', 'page.ts'],
      }));
      const checked = await run(process.execPath, [TSC, '-p', dir], app);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    });
  });

  describe('in Chromium', { skip: browserSkip() }, () => {
    let browser: BrowserSession;
    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    test('<script type="module"> imports { subscribe } from holdpush.mjs (as served) and gets published messages, with no global left', { timeout: 20_000 }, () =>
      withTabs(browser, 'client module in a page', async (tabs) => {
        const server = await startServer();
        try {
          const page = await tabs.open();
          const served = page.waitForResponse((res) => res.url().endsWith('/holdpush.mjs'));
          await page.goto(`${server.url}/send`); // a page of the server that loads no client itself
          await page.addScriptTag({
            type: 'module',
            content: `
              import { subscribe, version } from './holdpush.mjs';
              window.got = [];
              window.version = version;
              window.sub = subscribe(['news', 'alerts'], (m) => window.got.push(m.channel + ':' + m.data));
            `,
          });
          assert.match((await served).headers()['content-type'] ?? '', /^text\/javascript/);
          await held(server, 1);
          await server.holdpush.publish('news', 'one');
          await server.holdpush.publish('alerts', 'two');
          const got = await eventually(() => page.evaluate(() => (window as unknown as { got: string[] }).got), (list) => list.length >= 2, 5000, 'the messages');
          assert.deepEqual(got, ['news:one', 'alerts:two']);
          assert.equal(await page.evaluate(() => (window as unknown as { version: string }).version), '2');
          assert.equal(await page.evaluate(() => typeof (window as unknown as { Holdpush?: unknown }).Holdpush), 'undefined');
          await page.evaluate(() => (window as unknown as { sub: { stop(): void } }).sub.stop());
          await held(server, 0);
        } finally {
          await server.close();
        }
      }));
  });
});

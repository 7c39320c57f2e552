/**
 * NchanSubscriber.js (the npm package `nchan`, unchanged) in real Chromium, loaded from a page of
 * another origin, subscribing cross-origin to holdpush's /sub/<channel> as `longpoll` and as
 * `eventsource`: 50 messages published in bursts (many while it is between polls), none lost or
 * repeated; then stop() and start(), which resumes from `lastMessageId`.
 *
 * What NchanSubscriber sends (read from node_modules/nchan/NchanSubscriber.js, checked below on
 * the wire): as `longpoll` an XHR GET per message; after a 200 it keeps `If-None-Match: <Etag>` and
 * `If-Modified-Since: <Last-Modified>` for the next poll; any other status (holdpush's 408 at the
 * hold timeout) is an "error" after which it waits `reconnectTimeout` (1 s), then stop() + start(),
 * which adds `Etag: <lastMessageId>` ("<seconds>:<token>", built from Last-Modified and Etag) to
 * those headers: a cross-origin preflight that must allow `Etag`. As `eventsource` it opens
 * `EventSource(url)`, and on start() after stop() `url?last_event_id=<lastMessageId>`; when the
 * stream is cut the browser reconnects to that same URL adding `Last-Event-ID: <newer id>`, which
 * holdpush reads first (the order of docs/protocol.md, "Positions and gaps"), so nothing repeats.
 *
 * Two things Chromium does on its own, seen here, that are not holdpush's: it resends once a
 * request that got a 408 on a reused keep-alive connection (so a long-poll timeout reaches the
 * script after up to two holds), and it does not cache preflights of requests that carry
 * If-None-Match (so each cross-origin long-poll costs an OPTIONS first).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { CreateHoldpushOptions, Holdpush } from '../lib/index';
import { setTimeout as pause } from 'node:timers/promises';
import { type BrowserSession, browserSkip, launchBrowser, withTabs } from './support/browser';
import { request } from './support/http';
import { startServer } from './support/servers';
import { eventually, waitFor } from './support/wait';

const skip = browserSkip();
const NCHAN_JS = readFileSync(join(__dirname, '..', 'node_modules', 'nchan', 'NchanSubscriber.js'));

interface Seen {
  readonly at: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The status answered, or 0 while held or when the client went away. */
  status: number;
  responseHeaders: Record<string, unknown>;
}

interface Recorded {
  readonly url: string;
  readonly holdpush: Holdpush;
  readonly seen: Seen[];
  /** Cuts every open connection, as a proxy or a network change would; the server stays up. */
  drop(): void;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A holdpush server that writes down every request it gets and what it answered. */
async function startRecorded(options: CreateHoldpushOptions): Promise<Recorded> {
  const seen: Seen[] = [];
  const record = (server: Server) => server.prependListener('request', (req, res) => {
    const entry: Seen = { at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, status: 0, responseHeaders: {} };
    seen.push(entry);
    // Headers given to writeHead as a list never reach getHeaders(): note them on the way.
    const writeHead = res.writeHead;
    res.writeHead = function recordedWriteHead(this: typeof res, ...args: unknown[]) {
      const headers = args.find((arg, i) => i > 0 && typeof arg === 'object' && arg !== null);
      const list = Array.isArray(headers) ? (headers as string[]) : Object.entries(headers ?? {}).flat().map(String);
      for (let i = 0; i + 1 < list.length; i += 2) entry.responseHeaders[String(list[i]).toLowerCase()] = list[i + 1];
      return (writeHead as (...a: unknown[]) => typeof res).apply(this, args);
    } as typeof res.writeHead;
    res.once('finish', () => {
      entry.status = res.statusCode;
      Object.assign(entry.responseHeaders, res.getHeaders());
    });
  });
  const running = await startServer(options, { prepare: record });
  return { url: running.url, holdpush: running.holdpush, seen, drop: () => running.server.closeAllConnections(), close: running.close };
}

/** The second origin: a page that loads NchanSubscriber.js, nothing else. */
async function startOrigin(): Promise<{ url: string; close(): Promise<void> }> {
  const page = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>an app on another origin</title><script src="/NchanSubscriber.js"></script></head><body><p>app</p></body></html>';
  const server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(page);
    } else if (req.url === '/NchanSubscriber.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(NCHAN_JS);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const url = await listen(server);
  return { url, close: () => stopServer(server) };
}

interface PageState {
  messages: { data: string; id: string | null; type: string | null }[];
  errors: [number | string | null, string][];
  lastMessageId: string | null;
  running: boolean;
}

/** Creates and starts `window.sub = new NchanSubscriber(url, { subscriber })` in the page. */
async function subscribe(page: Page, url: string, transport: 'longpoll' | 'eventsource'): Promise<void> {
  await page.evaluate(
    ([subUrl, subscriber]) => {
      type Sub = { on(event: string, fn: (...args: unknown[]) => void): void; start(): void; lastMessageId?: string; running?: boolean };
      const w = window as unknown as { NchanSubscriber: new (url: string, opt: object) => Sub; sub: Sub; state: object };
      const state = { messages: [] as object[], errors: [] as object[] };
      // reconnect: 'session' keeps lastMessageId in sessionStorage, so a reloaded page resumes.
      const sub = new w.NchanSubscriber(subUrl as string, { subscriber, reconnect: 'session' });
      sub.on('message', (data, meta) => {
        const m = (meta ?? {}) as Record<string, unknown>;
        state.messages.push({ data, id: m.id ?? null, type: m['content-type'] ?? null });
      });
      sub.on('error', (code, text) => state.errors.push([code ?? null, String(text).slice(0, 200)]));
      w.sub = sub;
      w.state = state;
      sub.start();
    },
    [url, transport],
  );
}

function state(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const w = window as unknown as { sub: { lastMessageId?: string; running?: boolean }; state: PageState };
    return { ...w.state, lastMessageId: w.sub.lastMessageId ?? null, running: Boolean(w.sub.running) };
  });
}

function receivedAtLeast(page: Page, n: number, ms = 10_000): Promise<PageState> {
  return eventually(() => state(page), (s) => s.messages.length >= n, ms, `${n} messages in the page`);
}

/** POST /pub/<channel>; resolves with the message id holdpush gave it (from the channel info). */
async function publish(hp: Recorded, channel: string, text: string): Promise<string> {
  const reply = await request(`${hp.url}/pub/${channel}`, { method: 'POST', headers: { 'Content-Type': 'text/plain', Accept: 'application/json' }, body: text });
  assert.ok(reply.status === 201 || reply.status === 202, `publish answered ${reply.status} ${reply.text}`);
  return (reply.json() as { last_message_id: string }).last_message_id;
}

const label = (i: number): string => `message ${String(i).padStart(2, '0')}`;

describe('NchanSubscriber.js in Chromium, cross-origin', { skip }, () => {
  let browser: BrowserSession;
  let origin: { url: string; close(): Promise<void> };
  before(async () => {
    browser = await launchBrowser();
    origin = await startOrigin();
  });
  after(async () => {
    await origin?.close();
    await browser?.close();
  });

  for (const transport of ['longpoll', 'eventsource'] as const) {
    const name = `as ${transport}: 50 messages in bursts, none lost or repeated; stop() and start(), a cut connection and a page reload all resume from lastMessageId`;
    test(name, { timeout: 20_000 }, () =>
      withTabs(browser, `nchan ${name}`, async (tabs) => {
        // A 1 s hold on the long-poll run, so that 408s (and NchanSubscriber's re-polls) happen.
        const hp = await startRecorded({ holdTimeout: transport === 'longpoll' ? 1 : 30 });
        const channel = `nchan-${transport}`;
        try {
          const page = await tabs.open();
          await page.goto(`${origin.url}/`);
          assert.notEqual(new URL(origin.url).port, new URL(hp.url).port, 'two origins');
          await subscribe(page, `${hp.url}/sub/${channel}`, transport);
          await waitFor(() => hp.holdpush.stats().held.total === 1, 5000, 'the subscriber held');

          const ids: string[] = [];
          let n = 0;
          const burst = async (count: number): Promise<void> => {
            for (let i = 0; i < count; i++) {
              n += 1;
              ids.push(await publish(hp, channel, label(n)));
            }
          };

          /**
           * One more message, then the page's state once it shows that one: a message lost,
           * repeated or out of order before it is in the list by then, for the caller to check.
           */
          const settle = async (ms = 10_000): Promise<PageState> => {
            await burst(1);
            const marker = label(n);
            return eventually(() => state(page), (s) => s.messages.some((m) => m.data === marker), ms, `${marker} in the page`);
          };

          await burst(10); // one held poll gets the first, the rest land while it is between polls
          await receivedAtLeast(page, 10);
          if (transport === 'longpoll') {
            // Let the next poll time out (408): NchanSubscriber waits 1 s, then polls again with
            // If-None-Match and Etag; publish while it waits.
            await eventually(() => state(page), (s) => s.errors.some(([code]) => code === 408), 4000, 'a 408 in the page');
            await burst(10);
          } else {
            await pause(200); // the publisher's bursts come apart
            await burst(10);
          }
          await receivedAtLeast(page, 20);
          for (const ms of [0, 150, 40]) {
            await pause(ms);
            await burst(10);
          }
          let seen = await settle();
          assert.deepEqual(seen.messages.map((m) => m.data), Array.from({ length: 51 }, (_, i) => label(i + 1)));
          assert.deepEqual(seen.messages.map((m) => m.id), ids, 'the ids it reports are the ids holdpush gave');
          assert.equal(seen.lastMessageId, ids[50]);

          // stop(), publish while stopped, start(): exactly those five, from lastMessageId.
          const atStop = ids[50] as string;
          await page.evaluate(() => (window as unknown as { sub: { stop(): void } }).sub.stop());
          await waitFor(() => hp.holdpush.stats().held.total === 0, 5000, 'the subscriber gone');
          const mark = hp.seen.length;
          await burst(5);
          await page.evaluate(() => (window as unknown as { sub: { start(): void } }).sub.start());
          seen = await settle();
          assert.deepEqual(seen.messages.map((m) => m.data), Array.from({ length: 57 }, (_, i) => label(i + 1)));
          assert.deepEqual(seen.messages.map((m) => m.id), ids);
          assert.equal(seen.lastMessageId, ids[56]);

          const restart = hp.seen.slice(mark).find((s) => s.method === 'GET' && s.url.startsWith(`/sub/${channel}`));
          assert.ok(restart, 'start() asked again');
          const subs = hp.seen.filter((s) => s.url.startsWith(`/sub/${channel}`));
          for (const s of subs) assert.equal(s.headers.origin, origin.url, 'every request is cross-origin');
          if (transport === 'longpoll') {
            // On restart it names its position three ways; holdpush reads If-None-Match first.
            assert.equal(restart.headers.etag, atStop);
            assert.equal(restart.headers['if-none-match'], atStop.split(':')[1]);
            assert.ok(restart.headers['if-modified-since']);
            const timeouts = subs.filter((s) => s.status === 408);
            assert.ok(timeouts.length >= 1, 'the 408 path was exercised');
            for (const t of timeouts) {
              assert.ok(t.responseHeaders.etag, 'a 408 says where the client stands');
              assert.equal(t.responseHeaders['access-control-allow-origin'], '*');
            }
            // After a 408 its next poll carries Etag: a preflight that holdpush allows.
            const preflights = hp.seen.filter((s) => s.method === 'OPTIONS');
            const etagPreflight = preflights.find((s) => String(s.headers['access-control-request-headers']).toLowerCase().split(',').map((h) => h.trim()).includes('etag'));
            assert.ok(etagPreflight, `a preflight asked for Etag (saw ${preflights.map((s) => s.headers['access-control-request-headers']).join(' | ')})`);
            assert.equal(etagPreflight.status, 204);
            assert.match(String(etagPreflight.responseHeaders['access-control-allow-headers']), /(^|, )Etag(,|$)/);
            // Chromium resends a request that got a 408 on a reused keep-alive connection once, by
            // itself, so a timeout reaches the script after up to two holds; then the re-poll.
            const repoll = subs.find((s) => s.at > (timeouts[0] as Seen).at && s.method === 'GET' && s.headers.etag !== undefined);
            assert.ok(repoll?.headers['if-none-match'], 'the re-poll after a 408 names its position');
            assert.equal(repoll.status, 200);
            assert.deepEqual(seen.errors.map(([code]) => code).filter((code) => code !== 408), [], 'its only "errors" are the 408s');
          } else {
            assert.equal(new URL(restart.url, hp.url).searchParams.get('last_event_id'), atStop);
            assert.equal(restart.headers.accept, 'text/event-stream');
            assert.deepEqual(seen.errors, []);
          }
          assert.equal(subs.filter((s) => s.status >= 400 && s.status !== 408).length, 0, 'no request was refused');

          // The connection is cut (the server stays up): it comes back by itself and misses nothing.
          // An EventSource comes back with Last-Event-ID, which holdpush reads before the older
          // last_event_id still in its URL; the long-poll with If-None-Match, as after a 408.
          const cut = hp.seen.length;
          const atCut = ids[56] as string;
          hp.drop();
          await burst(3);
          seen = await settle(12_000);
          assert.deepEqual(seen.messages.map((m) => m.data), Array.from({ length: 61 }, (_, i) => label(i + 1)));
          assert.deepEqual(seen.messages.map((m) => m.id), ids);
          const back = hp.seen.slice(cut).find((s) => s.method === 'GET' && s.url.startsWith(`/sub/${channel}`));
          assert.ok(back, 'it came back');
          if (transport === 'eventsource') {
            assert.equal(back.headers['last-event-id'], atCut);
            assert.equal(new URL(back.url, hp.url).searchParams.get('last_event_id'), atStop);
          } else {
            assert.equal(back.headers['if-none-match'], atCut.split(':')[1]);
          }

          // The person reloads the page; three more come meanwhile. The new NchanSubscriber takes
          // lastMessageId from sessionStorage and names it alone: as long-poll in an Etag header
          // (the fourth way docs/protocol.md reads a position), as EventSource in last_event_id.
          const reload = hp.seen.length;
          const atReload = ids[60] as string;
          await page.reload();
          await waitFor(() => hp.holdpush.stats().held.total === 0, 5000, 'the old page gone');
          await burst(3);
          await subscribe(page, `${hp.url}/sub/${channel}`, transport);
          seen = await settle();
          assert.deepEqual(seen.messages.map((m) => m.data), [label(62), label(63), label(64), label(65)]);
          assert.deepEqual(seen.messages.map((m) => m.id), ids.slice(61));
          const resumed = hp.seen.slice(reload).find((s) => s.method === 'GET' && s.url.startsWith(`/sub/${channel}`));
          assert.ok(resumed, 'the reloaded page asked');
          if (transport === 'longpoll') {
            assert.equal(resumed.headers.etag, atReload);
            assert.equal(resumed.headers['if-none-match'], undefined);
            assert.equal(resumed.headers['last-event-id'], undefined);
          } else {
            assert.equal(new URL(resumed.url, hp.url).searchParams.get('last_event_id'), atReload);
          }
        } finally {
          await hp.close();
        }
      }),
    );
  }
});

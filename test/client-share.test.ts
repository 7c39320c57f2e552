/**
 * One connection for every tab, in real Chromium: several pages of one browser context load the
 * receiver page (which loads holdpush.js) and subscribe from it. The server is asked what it
 * holds (/stats, channel info); each tab records what it got, in order.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { createHoldpushServer } from '../lib/index';
import { type BrowserSession, type Tabs, browserSkip, eventually, launchBrowser, sleep, withTabs } from './support/browser';
import { type Running, held, request, startServer } from './support/http';

/** A page helper: start(name, channels, options) subscribes, recording messages, statuses and gaps. */
const HELPER = `
  window.h = {
    got: {}, statuses: {}, subs: {},
    start: function (name, channels, options) {
      var got = this.got[name] = [];
      var statuses = this.statuses[name] = [];
      var opts = Object.assign({}, options || {}, {
        onStatus: function (s, d) { statuses.push(s + '/' + d.role + (d.error ? '/' + d.error : '')); },
        onGap: function () { got.push('gap'); }
      });
      this.subs[name] = Holdpush.subscribe(channels, function (m) { got.push(m.channel + ':' + m.data); }, opts);
    }
  };
`;

interface Helper {
  got: Record<string, string[]>;
  statuses: Record<string, string[]>;
  subs: Record<string, { stop(): void; role: string; position: string | null; status: string }>;
}

/** Opens `origin`'s receiver page with the helper. */
async function openTab(tabs: Tabs, origin: string, init: string = HELPER): Promise<Page> {
  const page = await tabs.open();
  await page.addInitScript(init);
  await page.goto(`${origin}/`);
  return page;
}

function start(page: Page, name: string, channels: string[], options: Record<string, unknown> = {}): Promise<void> {
  return page.evaluate(([n, c, o]) => (window as unknown as { h: { start(n: unknown, c: unknown, o: unknown): void } }).h.start(n, c, o), [name, channels, options] as const);
}

function got(page: Page, name = 's'): Promise<string[]> {
  return page.evaluate((n) => (window as unknown as { h: Helper }).h.got[n] ?? [], name);
}

function role(page: Page, name = 's'): Promise<string> {
  return page.evaluate((n) => (window as unknown as { h: Helper }).h.subs[n]?.role ?? 'none', name);
}

/** Waits until the subscription says it is open (for a follower: the leader took it in). */
function open(page: Page, name = 's'): Promise<string> {
  return eventually(() => page.evaluate((n) => (window as unknown as { h: Helper }).h.subs[n]?.status ?? '', name), (status) => status === 'open', 6000, `${name} to be open`);
}

async function waitFor(page: Page, want: readonly string[], name = 's', ms = 8000): Promise<void> {
  const list = await eventually(() => got(page, name), (seen) => seen.length >= want.length, ms, `${want.length} messages in ${name}`);
  assert.deepEqual(list, want);
}

/** What a tab on `channels` must get of `published` (channel, data pairs). */
function expectedFor(channels: readonly string[], published: readonly (readonly [string, string])[]): string[] {
  return published.filter(([channel]) => channels.includes(channel)).map(([channel, data]) => `${channel}:${data}`);
}

/** A server that also notes when each subscribe request arrives. */
async function startCounted(): Promise<Running & { polls: number[] }> {
  const { server, holdpush } = createHoldpushServer({ log: 'off' });
  const polls: number[] = [];
  server.on('request', (req: IncomingMessage) => {
    if (req.url?.startsWith('/sub/')) polls.push(Date.now());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    holdpush,
    server,
    polls,
    async close() {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function subscribersOf(server: Running, channel: string): Promise<number> {
  const info = await request(`${server.url}/pub/${channel}`, { headers: { Accept: 'application/json' } });
  return info.status === 404 ? 0 : (info.json() as { subscribers: number }).subscribers;
}

describe('one connection for every tab (Chromium, several tabs of one browser)', { skip: browserSkip() }, () => {
  let browser: BrowserSession;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  function browserTest(name: string, body: (tabs: Tabs) => Promise<void>, ms = 30_000): void {
    test(name, { timeout: ms + 5000 }, () => withTabs(browser, name, body, ms));
  }

  browserTest('8 tabs on 3 channels in overlapping sets: the server holds 1 subscriber; each tab gets exactly its channels\' 200 messages, once, in order', async (tabs) => {
    const server = await startServer();
    try {
      const sets = [['a'], ['b'], ['c'], ['a', 'b'], ['b', 'c'], ['c', 'a'], ['a', 'b', 'c'], ['b']];
      const pages: Page[] = [];
      for (const channels of sets) {
        const page = await openTab(tabs, server.url);
        await start(page, 's', channels);
        pages.push(page);
      }
      for (const page of pages) await open(page);
      await held(server, 1);
      const roles = await Promise.all(pages.map((page) => role(page)));
      assert.deepEqual(roles.filter((r) => r === 'leader').length, 1, roles.join());
      assert.deepEqual(roles.filter((r) => r === 'follower').length, 7, roles.join());

      const published: [string, string][] = [];
      for (let i = 0; i < 200; i++) {
        const channel = ['a', 'b', 'c'][i % 3] as string;
        published.push([channel, `m${i}`]);
        await server.holdpush.publish(channel, `m${i}`);
      }
      for (const [i, page] of pages.entries()) await waitFor(page, expectedFor(sets[i] as string[], published));
      await held(server, 1);
      const stats = (await request(`${server.url}/stats`)).json() as { held: { total: number } };
      assert.equal(stats.held.total, 1);
    } finally {
      await server.close();
    }
  });

  browserTest('the leading tab closes while 500 messages are published 1 ms apart: the other tabs get all 500, once, in order; a new leader polls within 2 s and the server holds 1 subscriber', async (tabs) => {
    const server = await startCounted();
    try {
      const sets = [['a', 'b'], ['a'], ['b'], ['a', 'b'], ['a']];
      const pages: Page[] = [];
      for (const channels of sets) {
        const page = await openTab(tabs, server.url);
        await start(page, 's', channels);
        pages.push(page);
      }
      for (const page of pages) await open(page);
      await held(server, 1);
      const roles = await Promise.all(pages.map((page) => role(page)));
      const leading = roles.indexOf('leader');
      assert.ok(leading >= 0, roles.join());

      const published: [string, string][] = [];
      let closed = 0;
      let gone: Promise<number> | undefined;
      for (let i = 0; i < 500; i++) {
        const channel = i % 2 === 0 ? 'a' : 'b';
        published.push([channel, `m${i}`]);
        await server.holdpush.publish(channel, `m${i}`);
        if (i === 150) {
          closed = Date.now();
          gone = (pages[leading] as Page).close().then(() => Date.now());
        }
        await sleep(1);
      }
      // Once the closed tab is gone, every subscribe request the server gets is the new leader's.
      // (While messages come faster than it takes them, its polls are answered at once, so
      // /stats holds none until the publishing stops.)
      const after = (await gone) as number;
      const firstPoll = (await eventually(async () => server.polls.find((at) => at > after), (at) => at !== undefined, 5000, 'a poll of the new leader')) as number;
      assert.ok(firstPoll - closed < 2000, `the new leader polled ${firstPoll - closed} ms after the close`);
      await held(server, 1);
      const rest = pages.filter((_, i) => i !== leading);
      const restSets = sets.filter((_, i) => i !== leading);
      for (const [i, page] of rest.entries()) await waitFor(page, expectedFor(restSets[i] as string[], published), 's', 10_000);
      const newRoles = await Promise.all(rest.map((page) => role(page)));
      assert.equal(newRoles.filter((r) => r === 'leader').length, 1, newRoles.join());
      await held(server, 1);
    } finally {
      await server.close();
    }
  }, 40_000);

  browserTest('the leading tab gets the page lifecycle\'s freeze event: it lets another lead; at resume it follows, and gets every message once, in order', async (tabs) => {
    // Headless Chromium keeps every page visible and will not freeze one (CDP's
    // Page.setWebLifecycleState is ignored): the events a browser sends before it freezes a
    // background tab and after it thaws it are dispatched here instead.
    const server = await startServer();
    try {
      const pages: Page[] = [];
      for (let i = 0; i < 3; i++) {
        const page = await openTab(tabs, server.url);
        await start(page, 's', ['news']);
        await open(page);
        pages.push(page);
      }
      await held(server, 1);
      const leading = (await Promise.all(pages.map((page) => role(page)))).indexOf('leader');
      const freezing = pages[leading] as Page;
      await server.holdpush.publish('news', 'before');
      for (const page of pages) await waitFor(page, ['news:before']);

      await freezing.evaluate(() => document.dispatchEvent(new Event('freeze')));
      const others = pages.filter((page) => page !== freezing);
      await eventually(() => Promise.all(others.map((page) => role(page))), (roles) => roles.includes('leader'), 2000, 'a new leader');
      assert.equal(await role(freezing), 'follower');
      await held(server, 1);
      await server.holdpush.publish('news', 'while frozen');
      for (const page of others) await waitFor(page, ['news:before', 'news:while frozen']);

      await freezing.evaluate(() => document.dispatchEvent(new Event('resume')));
      await server.holdpush.publish('news', 'after');
      for (const page of pages) await waitFor(page, ['news:before', 'news:while frozen', 'news:after']);
      assert.equal(await role(freezing), 'follower');
      await held(server, 1);
    } finally {
      await server.close();
    }
  });

  browserTest('a tab that joins late gets what it asked for (the next message, or after its position), one that stops gets no more, and a channel no tab wants is let go', async (tabs) => {
    const server = await startServer();
    try {
      const first = await openTab(tabs, server.url);
      await start(first, 's', ['news']);
      const second = await openTab(tabs, server.url);
      await start(second, 's', ['news']);
      await start(second, 'solo', ['solo']);
      await open(first);
      await open(second);
      await open(second, 'solo');
      await held(server, 1);
      assert.equal(await subscribersOf(server, 'solo'), 1);
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) ids.push((await server.holdpush.publish('news', `n${i}`)).id);
      await waitFor(first, ['news:n1', 'news:n2', 'news:n3']);
      await waitFor(second, ['news:n1', 'news:n2', 'news:n3']);

      // Late, with no position: from the next message, not the leader's past.
      const late = await openTab(tabs, server.url);
      await start(late, 's', ['news']);
      await open(late);
      // Late, from a position: every message after it (the leader's log has them).
      const resumed = await openTab(tabs, server.url);
      await start(resumed, 's', ['news'], { position: ids[0] });
      await waitFor(resumed, ['news:n2', 'news:n3']);
      for (let i = 4; i <= 5; i++) await server.holdpush.publish('news', `n${i}`);
      await waitFor(late, ['news:n4', 'news:n5']);
      await waitFor(resumed, ['news:n2', 'news:n3', 'news:n4', 'news:n5']);
      await held(server, 1);

      // Stopping: that subscription gets no more; the others go on; 'solo' is no longer asked for.
      await second.evaluate(() => {
        const h = (window as unknown as { h: Helper }).h;
        h.subs.s?.stop();
        h.subs.solo?.stop();
      });
      await eventually(() => subscribersOf(server, 'solo'), (n) => n === 0, 5000, 'solo to have no subscriber');
      await server.holdpush.publish('news', 'n6');
      await waitFor(first, ['news:n1', 'news:n2', 'news:n3', 'news:n4', 'news:n5', 'news:n6']);
      await waitFor(late, ['news:n4', 'news:n5', 'news:n6']);
      assert.deepEqual(await got(second), ['news:n1', 'news:n2', 'news:n3', 'news:n4', 'news:n5']);
      assert.deepEqual(await got(second, 'solo'), []);
      await held(server, 1);
    } finally {
      await server.close();
    }
  });

  browserTest('a tab that joins from a position the shared connection has passed is caught up on a connection of its own, which ends when the two meet', async (tabs) => {
    const server = await startServer();
    try {
      const leader = await openTab(tabs, server.url);
      await start(leader, 's', ['news']);
      await open(leader);
      await held(server, 1);
      const ids: string[] = [];
      for (let i = 1; i <= 3; i++) ids.push((await server.holdpush.publish('other', `o${i}`)).id);
      await server.holdpush.publish('news', 'n1'); // the shared connection now stands after o3
      await waitFor(leader, ['news:n1']);

      const behind = await openTab(tabs, server.url);
      await start(behind, 's', ['other'], { position: ids[0] });
      await waitFor(behind, ['other:o2', 'other:o3']);
      await held(server, 2); // the shared poll, and the catch-up waiting for the next 'other' message
      await server.holdpush.publish('other', 'o4');
      await waitFor(behind, ['other:o2', 'other:o3', 'other:o4']);
      await held(server, 1);
      await server.holdpush.publish('other', 'o5');
      await server.holdpush.publish('news', 'n2');
      await waitFor(behind, ['other:o2', 'other:o3', 'other:o4', 'other:o5']);
      await waitFor(leader, ['news:n1', 'news:n2']);
      assert.equal(await role(behind), 'follower');
      await held(server, 1);
    } finally {
      await server.close();
    }
  });

  browserTest('shared: false, another origin and a tab whose channels do not fit in 16 each hold a connection of their own; all get every message', async (tabs) => {
    const server = await startServer();
    try {
      const fifteen = Array.from({ length: 15 }, (_, i) => `c${i}`);
      const leader = await openTab(tabs, server.url);
      await start(leader, 's', ['news', ...fifteen]);
      await open(leader);
      const follower = await openTab(tabs, server.url);
      await start(follower, 's', ['news']);
      await open(follower);
      await held(server, 1);

      const optOut = await openTab(tabs, server.url);
      await start(optOut, 's', ['news'], { shared: false });
      await open(optOut);
      await held(server, 2);
      const wide = await openTab(tabs, server.url);
      await start(wide, 's', ['news', 'x1', 'x2']); // 18 with the others: over 16
      await open(wide);
      await held(server, 3);
      const elsewhere = await openTab(tabs, `http://localhost:${server.port}`);
      await start(elsewhere, 's', ['news']);
      await open(elsewhere);
      await held(server, 4);
      assert.deepEqual(
        await Promise.all([leader, follower, optOut, wide, elsewhere].map((page) => role(page))),
        ['leader', 'follower', 'alone', 'alone', 'leader'],
      );

      await server.holdpush.publish('news', 'to all');
      await server.holdpush.publish('x2', 'to the wide one');
      for (const page of [leader, follower, optOut, elsewhere]) await waitFor(page, ['news:to all']);
      await waitFor(wide, ['news:to all', 'x2:to the wide one']);
    } finally {
      await server.close();
    }
  });

  browserTest('without BroadcastChannel (deleted before the client loads) each tab subscribes alone and works', async (tabs) => {
    const server = await startServer();
    try {
      const pages: Page[] = [];
      for (let i = 0; i < 2; i++) {
        const page = await openTab(tabs, server.url, `delete window.BroadcastChannel;\n${HELPER}`);
        await start(page, 's', ['news']);
        pages.push(page);
      }
      for (const page of pages) await open(page);
      await held(server, 2);
      assert.deepEqual(await Promise.all(pages.map((page) => role(page))), ['alone', 'alone']);
      await server.holdpush.publish('news', 'one');
      for (const page of pages) await waitFor(page, ['news:one']);
    } finally {
      await server.close();
    }
  });

  browserTest('a deleted channel: tabs that all asked for just it stop (gone), as alone; on a wider shared connection the others go on', async (tabs) => {
    const server = await startServer();
    try {
      const pages: Page[] = [];
      for (let i = 0; i < 2; i++) {
        const page = await openTab(tabs, server.url);
        await start(page, 's', ['doomed']);
        pages.push(page);
      }
      for (const page of pages) await open(page);
      await held(server, 1);
      assert.equal((await request(`${server.url}/pub/doomed`, { method: 'DELETE' })).status, 200);
      for (const page of pages) {
        await eventually(() => page.evaluate(() => (window as unknown as { h: Helper }).h.statuses.s ?? []), (list) => list.some((status) => status.startsWith('stopped/')), 5000, 'stopped');
        const statuses = await page.evaluate(() => (window as unknown as { h: Helper }).h.statuses.s ?? []);
        assert.match(statuses[statuses.length - 1] ?? '', /^stopped\/(leader|follower)\/gone$/);
      }
      await held(server, 0);

      const wide = pages[0] as Page;
      await start(wide, 'w', ['doomed2', 'kept']);
      const narrow = pages[1] as Page;
      await start(narrow, 'k', ['kept']);
      await open(wide, 'w');
      await open(narrow, 'k');
      await held(server, 1);
      assert.equal((await request(`${server.url}/pub/doomed2`, { method: 'DELETE' })).status, 200);
      await server.holdpush.publish('kept', 'still here');
      await waitFor(narrow, ['kept:still here'], 'k');
      await waitFor(wide, ['kept:still here'], 'w');
      const statuses = await narrow.evaluate(() => (window as unknown as { h: Helper }).h.statuses.k ?? []);
      assert.ok(statuses.some((s) => s.endsWith('/gone')), `told of the deletion: ${statuses.join()}`);
    } finally {
      await server.close();
    }
  });
});

/**
 * End to end in real Chromium, doing what a person does with the pages: the original demo
 * (one tab waits on /?uid=, another sends), the receiver page, the send page, and messages that
 * look like markup. On failure a screenshot is kept in test-artifacts/<test name>.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type BrowserSession, type Tabs, browserSkip, eventually, launchBrowser, settled, startServerAt, withTabs } from './support/browser';
import { waitFor } from './support/wait';
import { signJwt } from '../lib/index';
import { type Running, held, request, startServer } from './support/http';

const skip = browserSkip();
const LIMIT = { timeout: 20_000 };

/** The text a tab shows (the body's rendered text), retried while it is between documents. */
function shown(page: Page): Promise<string | null> {
  return page.evaluate(() => (document.body ? document.body.innerText : null));
}

/** The message texts on the receiver page, in the order shown. */
function received(page: Page): Promise<string[]> {
  return page.locator('#messages .message .body').allTextContents();
}

function waitForMessages(page: Page, expected: string[], ms = 8000): Promise<string[]> {
  return eventually(() => received(page), (list) => list.length >= expected.length, ms, `messages ${JSON.stringify(expected)}`).then((list) => {
    assert.deepEqual(list, expected);
    return list;
  });
}

/** Opens the receiver page and listens on a uid, as a person would; resolves once it is held. */
async function listen(tabs: Tabs, server: Running, uid: string, heldAfter: number, untilListening = false): Promise<Page> {
  const page = await tabs.open();
  await page.goto(`${server.url}/`);
  await page.getByLabel('Your uid').fill(uid);
  await page.getByRole('button', { name: 'Listen' }).click();
  await held(server, heldAfter);
  if (untilListening) {
    // It says so once its poll has been held a moment (holdpush.js's SETTLE_MS, 1 s).
    await eventually(() => page.locator('#status').textContent(), (text) => text === 'Status: listening', 5000, 'the status to say listening');
  }
  return page;
}

/** Fills in the send page (key by key when `typed`) and presses Send; resolves on the next page. */
async function sendFromPage(page: Page, message: string, fields: { uid?: string; token?: string; typed?: boolean } = {}): Promise<void> {
  const field = page.getByLabel('Message', { exact: true });
  await field.fill(fields.typed ? '' : message);
  if (fields.typed) await field.pressSequentially(message);
  await page.getByLabel(/To uid/).fill(fields.uid ?? '');
  if (fields.token !== undefined) await page.getByLabel(/Publish token/).fill(fields.token);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send' }).click()]);
}

async function pwned(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
}

const XSS = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=1</script>'];

describe('in Chromium', { skip }, () => {
  let browser: BrowserSession;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  /** A test with its own tabs and server(s), bounded, with a screenshot when it fails. */
  function browserTest(name: string, body: (tabs: Tabs) => Promise<void>): void {
    test(name, LIMIT, () => withTabs(browser, name, body));
  }

  browserTest('the original demo: tab 1 waits on /?uid=1252473, tab 2 types and sends from /send, tab 1 shows the message', async (tabs) => {
    const server = await startServer();
    try {
      const waiting = await tabs.open();
      // A navigation that waits: its answer is the message, so it is not awaited here.
      const navigation = waiting.goto(`${server.url}/?uid=1252473`, { timeout: 15_000 });
      navigation.catch(() => undefined);
      await held(server, 1);

      const sender = await tabs.open();
      await sender.goto(`${server.url}/send`);
      const text = 'Hello from tab 2: café ✓ <b>not bold</b>';
      await sendFromPage(sender, text, { typed: true });
      assert.match(sender.url(), /\/send\?sent=\d+%3A[^&]+&delivered=1&uid=$/);

      const answer = await navigation;
      assert.equal(answer?.status(), 200);
      assert.equal(await waiting.evaluate(() => document.contentType), 'text/plain');
      assert.equal(await shown(waiting), text);
      assert.equal(server.holdpush.stats().held.total, 0);
    } finally {
      await server.close();
    }
  });

  browserTest('the original demo: a tab left waiting longer than the hold timeout reloads itself and still gets the message', async (tabs) => {
    const server = await startServer({ holdTimeout: 1 });
    try {
      const waiting = await tabs.open();
      const visits: string[] = [];
      const pages: Promise<string>[] = [];
      waiting.on('request', (req) => {
        if (req.isNavigationRequest()) visits.push(req.url());
      });
      waiting.on('response', (res) => {
        if (res.request().isNavigationRequest()) pages.push(res.text().catch(() => `(${res.status()} ${res.headers()['content-type']})`));
      });
      waiting.goto(`${server.url}/?uid=1252473`).catch(() => undefined);
      await held(server, 1);
      // The person waits through two hold timeouts: the tab reloads itself at each.
      await waitFor(() => visits.length >= 3, 5000, () => `the tab to reload itself twice (${visits.length} visits)`);
      for (const visit of visits.slice(1, 3)) assert.match(visit, /\?uid=1252473&last_event_id=[0-9A-Za-z._~%-]+$/);
      // What the tab shows meanwhile (read from the answers: a page that is reloading cannot be asked).
      const first = await pages[0];
      assert.match(first ?? '', /Waiting for a message|text\/html/);

      const sender = await tabs.open();
      await sender.goto(`${server.url}/send`);
      await sendFromPage(sender, 'worth the wait');
      await eventually(() => shown(waiting), (text) => text === 'worth the wait', 5000, 'the message in tab 1');
      assert.equal(await waiting.evaluate(() => document.contentType), 'text/plain');
    } finally {
      await server.close();
    }
  });

  browserTest('the receiver page shows messages live and in order, from publish() and from POST /send', async (tabs) => {
    const server = await startServer();
    try {
      const page = await listen(tabs, server, 'reader-1', 1, true);
      assert.equal(await page.locator('#empty').isVisible(), true);
      const expected: string[] = [];
      for (let i = 1; i <= 6; i++) {
        const text = `message ${i}`;
        expected.push(text);
        if (i % 3 === 0) {
          const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: text, uid: 'reader-1' }) });
          assert.equal(sent.status, 200);
        } else if (i % 3 === 1) {
          await server.holdpush.publish('uid:reader-1', text);
        } else {
          await server.holdpush.publish('uid:*', text); // to everyone
        }
        if (i === 2) await waitForMessages(page, expected.slice()); // some arrive while it waits, some in a row
      }
      await waitForMessages(page, expected);
      // The uid face does not say whether a message was for this uid or for everyone: neither does the page.
      assert.deepEqual(new Set(await page.locator('#messages .message .where').allTextContents()), new Set(['to uid reader-1 or everyone']));
      assert.equal(await page.locator('#empty').isVisible(), false);
      assert.equal(await page.locator('#log').getAttribute('aria-live'), 'polite');
      assert.match(page.url(), /\?for=reader-1$/, 'the uid is kept in the address, to come back to');
      // Stop, then Listen again: nothing missed or repeated in between.
      await page.getByRole('button', { name: 'Stop' }).click();
      await held(server, 0);
      await server.holdpush.publish('uid:reader-1', 'while stopped');
      await page.getByRole('button', { name: 'Listen' }).click();
      await waitForMessages(page, [...expected, 'while stopped']);
    } finally {
      await server.close();
    }
  });

  browserTest('the receiver page says it is reconnecting while the server is away and resumes after a restart on the same port', async (tabs) => {
    let server = await startServer();
    const { port } = server;
    try {
      const page = await listen(tabs, server, 'phoenix', 1, true);
      await server.holdpush.publish('uid:phoenix', 'before 1');
      await server.holdpush.publish('uid:phoenix', 'before 2');
      await waitForMessages(page, ['before 1', 'before 2']);

      await server.close();
      await eventually(() => page.locator('#status').textContent(), (text) => /^Status: reconnecting/.test(text ?? ''), 5000, 'the status to say reconnecting');
      // It keeps trying while the server is away: wait until a try after that is refused.
      const failed: string[] = [];
      page.on('requestfailed', (req) => failed.push(req.url()));
      await waitFor(() => failed.some((url) => url.startsWith(`${server.url}/`)), 5000, () => `a retry refused while the server is away (failed: ${JSON.stringify(failed)})`);

      // The memory store starts empty: the page's position is from the old run, which the new
      // one reads as a gap and answers from its oldest message, so this one is not missed.
      server = await startServerAt(port);
      await server.holdpush.publish('uid:phoenix', 'after 1');
      await waitForMessages(page, ['before 1', 'before 2', 'after 1'], 10_000);
      await held(server, 1);
      await server.holdpush.publish('uid:phoenix', 'after 2');
      await waitForMessages(page, ['before 1', 'before 2', 'after 1', 'after 2']);
      await eventually(() => page.locator('#status').textContent(), (text) => text === 'Status: listening', 5000, 'the status to say listening');
      // The new server cannot know what the old one held: the page says it may have missed some.
      assert.equal(await page.locator('#gap').isVisible(), true);
    } finally {
      await server.close();
    }
  });

  browserTest('the send page: targets one uid, shows the result of the post and how many subscribers are held', async (tabs) => {
    const server = await startServer();
    try {
      const alice = await listen(tabs, server, 'alice', 1);
      const bob = await listen(tabs, server, 'bob', 2);

      const send = await tabs.open();
      await send.goto(`${server.url}/send`);
      await eventually(() => send.locator('#held').textContent(), (text) => text === '2 subscribers held now', 5000, 'the held count');

      await sendFromPage(send, 'just for alice', { uid: 'alice' });
      assert.match(send.url(), /\/send\?sent=[^&]+&delivered=1&uid=alice$/);
      const id = decodeURIComponent(/sent=([^&]+)/.exec(send.url())?.[1] ?? '');
      assert.equal(await send.locator('#result').textContent(), `Sent ${id} to 1 waiting subscriber (uid alice).`);
      assert.equal(await send.getByLabel(/To uid/).inputValue(), 'alice', 'the uid stays filled in for the next one');
      await waitForMessages(alice, ['just for alice']);

      await held(server, 2);
      await sendFromPage(send, 'for everyone', { uid: '' });
      assert.match(send.url(), /&delivered=2&uid=$/);
      assert.match((await send.locator('#result').textContent()) ?? '', /^Sent \d+:\S+ to 2 waiting subscribers\.$/);
      await waitForMessages(alice, ['just for alice', 'for everyone']);
      await waitForMessages(bob, ['for everyone']); // bob never got alice's
      await eventually(() => send.locator('#held').textContent(), (text) => text === '2 subscribers held now', 5000, 'the held count after');
    } finally {
      await server.close();
    }
  });

  browserTest('the send page: with --publish-token a wrong token is refused and the right one delivers', async (tabs) => {
    const server = await startServer({ publishToken: 's3cret' });
    try {
      const reader = await listen(tabs, server, 'tok', 1);
      const send = await tabs.open();
      await send.goto(`${server.url}/send`);

      const refused = send.waitForResponse((res) => res.request().method() === 'POST');
      refused.catch(() => undefined);
      await sendFromPage(send, 'with a wrong token', { uid: 'tok', token: 'nope' });
      // Refused: the JSON 401 itself, or (a server that shows it on the page) a 303 back to
      // /send?error=unauthorized, which the page shows.
      const refusal = await refused;
      assert.ok(refusal.status() === 401 || (refusal.status() === 303 && /[?&]error=unauthorized/.test(refusal.headers().location ?? '')), `refused with ${refusal.status()}`);
      const error = await send.evaluate(() => {
        const shownError = document.getElementById('send-error');
        return shownError && !shownError.hidden ? shownError.textContent : document.body.innerText;
      });
      assert.match(error ?? '', /unauthorized|not valid|token/i, 'the person sees why');

      await send.goto(`${server.url}/send`);
      await sendFromPage(send, 'with no token', { uid: 'tok' });
      assert.match(await shown(send) ?? '', /unauthorized|token/i);

      await send.goto(`${server.url}/send`);
      await sendFromPage(send, 'with the right token', { uid: 'tok', token: 's3cret' });
      assert.match(send.url(), /delivered=1&uid=tok$/);
      assert.match((await send.locator('#result').textContent()) ?? '', /^Sent \S+ to 1 waiting subscriber \(uid tok\)\.$/);
      await waitForMessages(reader, ['with the right token']);
    } finally {
      await server.close();
    }
  });

  browserTest('the receiver page with --subscribe-secret: without a token it says why it stopped; with one it listens on the uid and channels the token names', async (tabs) => {
    const server = await startServer({ subscribeSecret: 'sub-s3cret' });
    try {
      const page = await tabs.open();
      await page.goto(`${server.url}/`);
      await page.getByLabel('Your uid').fill('carol');
      await page.getByRole('button', { name: 'Listen' }).click();
      await eventually(() => page.locator('#status').textContent(), (text) => text === 'Status: stopped: subscribing needs a token (Authorization: Bearer or ?token=)', 5000, 'the refusal');
      assert.equal(await page.getByRole('button', { name: 'Listen' }).isEnabled(), true);

      await page.getByLabel(/Subscribe token/).fill(signJwt({ holdpush: { subscribe: ['uid:carol', 'news'] } }, 'sub-s3cret'));
      await page.getByLabel(/Channels/).fill('news');
      await page.getByRole('button', { name: 'Listen' }).click();
      await held(server, 2);
      await server.holdpush.publish('uid:carol', 'for carol');
      await waitForMessages(page, ['for carol']);
      await server.holdpush.publish('news', 'news item');
      await waitForMessages(page, ['for carol', 'news item']);
      assert.doesNotMatch(page.url(), /token|eyJ/, 'the token is not kept in the address');
    } finally {
      await server.close();
    }
  });

  browserTest('messages are text, never markup, on the receiver page', async (tabs) => {
    const server = await startServer();
    try {
      const page = await listen(tabs, server, 'xss', 1);
      await server.holdpush.publish('uid:xss', XSS[0] as string);
      await waitForMessages(page, [XSS[0] as string]);
      const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: XSS[1], uid: 'xss' }) });
      assert.equal(sent.status, 200);
      await waitForMessages(page, XSS);
      await settled(page); // an image that failed to load has run its onerror by now
      assert.equal(await pwned(page), undefined);
      assert.equal(await page.locator('#messages img, #messages script').count(), 0);
    } finally {
      await server.close();
    }
  });

  browserTest('messages are text, never markup, on the seed page /?uid= and in the send page result', async (tabs) => {
    const server = await startServer();
    try {
      const sender = await tabs.open();
      await sender.goto(`${server.url}/send`);
      const waiting = await tabs.open();
      for (const [i, payload] of XSS.entries()) {
        const navigation = waiting.goto(`${server.url}/?uid=xss-seed`, { timeout: 10_000 });
        navigation.catch(() => undefined);
        await held(server, 1);
        if (i === 0) await sendFromPage(sender, payload); // from the form, as a person would
        else await server.holdpush.publish('uid:xss-seed', payload);
        await navigation;
        assert.equal(await shown(waiting), payload);
        await settled(waiting); // an image that failed to load has run its onerror by now
        assert.equal(await pwned(waiting), undefined);
        assert.equal(await waiting.locator('img, body script').count(), 0);
      }

      // What the send page shows from its address (after a post) is text too.
      const query = new URLSearchParams({ sent: XSS[0] as string, delivered: '1', uid: XSS[1] as string });
      await sender.goto(`${server.url}/send?${query.toString()}`);
      assert.match((await sender.locator('#result').textContent()) ?? '', /^Sent <img src=x onerror="window.__pwned=1"> to 1 waiting subscriber/);
      assert.equal(await sender.locator('main img').count(), 0);
      await sender.goto(`${server.url}/send?${new URLSearchParams({ error: XSS[1] as string, message: XSS[0] as string }).toString()}`);
      assert.match((await sender.locator('#send-error').textContent()) ?? '', /^Not sent: <img src=x/);
      await settled(sender);
      assert.equal(await pwned(sender), undefined);
      assert.equal(await sender.locator('main img, main script').count(), 0);
    } finally {
      await server.close();
    }
  });

  browserTest('holdpush.js in Chromium: batch, longpoll and eventsource each get every message once, in order, across channels', async (tabs) => {
    // The server's log tells which polls it answered at their hold timeout (the page may not:
    // Chromium resends a request answered 408 on a reused connection without telling it).
    const endings: string[] = [];
    const server = await startServer({
      holdTimeout: 1,
      log: 'json',
      logWrite: (line) => {
        const { path, status } = JSON.parse(line) as { path: string; status: number };
        if (status === 204 || status === 408) endings.push(`${status} ${decodeURIComponent(path.split('?')[0] ?? '')}`);
      },
    });
    try {
      const page = await tabs.open();
      await page.goto(`${server.url}/`);
      await page.evaluate(() => {
        const w = window as unknown as Record<string, unknown> & { Holdpush: { subscribe(t: unknown, f: (m: { data: string; channel: string }) => void, o: object): unknown } };
        for (const transport of ['batch', 'longpoll', 'eventsource']) {
          const got: string[] = [];
          w[`got_${transport}`] = got;
          const target = transport === 'longpoll' ? 'news' : ['news', 'alerts'];
          // An EventSource event carries no channel name (id, event, data only): null on a multiplex.
          w[`sub_${transport}`] = w.Holdpush.subscribe(target, (m) => got.push(`${m.channel ?? '?'}:${m.data}`), { transport });
        }
      });
      await held(server, 3);
      const expected: Record<string, string[]> = { batch: [], longpoll: [], eventsource: [] };
      for (let i = 1; i <= 12; i++) {
        const channel = i % 3 === 0 ? 'alerts' : 'news';
        await server.holdpush.publish(channel, `m${i}`);
        expected.batch?.push(`${channel}:m${i}`);
        expected.eventsource?.push(`?:m${i}`);
        if (channel === 'news') expected.longpoll?.push(`news:m${i}`);
        if (i === 6) {
          // A hold timeout passes in the middle: batch's poll is answered 204 and longpoll's 408
          // (the stream's goes on), and both ask again.
          await waitFor(() => endings.includes('204 /sub/alerts,news') && endings.includes('408 /sub/news'), 5000, () => `a timeout for batch and longpoll (answered ${JSON.stringify(endings)})`);
          await held(server, 3);
        }
      }
      for (const transport of ['batch', 'longpoll', 'eventsource']) {
        const want = expected[transport] as string[];
        const got = await eventually(() => page.evaluate((t) => (window as unknown as Record<string, string[]>)[`got_${t}`] as string[], transport), (list) => list.length >= want.length, 8000, `${transport} messages`);
        assert.deepEqual(got, want, transport);
      }
      await page.evaluate(() => {
        for (const t of ['batch', 'longpoll', 'eventsource']) (window as unknown as Record<string, { stop(): void }>)[`sub_${t}`]?.stop();
      });
      await held(server, 0);
    } finally {
      await server.close();
    }
  });

  browserTest('holdpush.js: a batch subscriber with no position yet comes back from the head a timeout names (first-message newest)', async (tabs) => {
    const server = await startServer({ holdTimeout: 1, firstMessage: 'newest' });
    try {
      const page = await tabs.open();
      await page.goto(`${server.url}/`);
      // The second poll (after the first one timed out) waits until the test lets it go.
      // (Page code as text: the test's own compiled functions carry helpers the page does not have.)
      await page.evaluate(`(() => {
        var urls = window.urls = [], got = window.got = [];
        var gate = new Promise(function (resolve) { window.release = resolve; });
        function gated(url, init) {
          urls.push(url);
          return urls.length === 2 ? gate.then(function () { return fetch(url, init); }) : fetch(url, init);
        }
        window.sub = Holdpush.subscribe('late', function (m) { got.push(m.data); }, { fetch: gated });
      })()`);
      await eventually(() => page.evaluate(() => (window as unknown as { urls: string[] }).urls.length), (n) => n === 2, 4000, 'the poll after the timeout');
      await server.holdpush.publish('late', 'published between two polls');
      await page.evaluate(() => (window as unknown as { release(): void }).release());
      const got = await eventually(() => page.evaluate(() => (window as unknown as { got: string[] }).got), (list) => list.length > 0, 4000, 'the message');
      assert.deepEqual(got, ['published between two polls']);
      const urls = await page.evaluate(() => (window as unknown as { urls: string[] }).urls);
      assert.match(urls[1] ?? '', /[?&]last_event_id=/);
      await page.evaluate(() => (window as unknown as { sub: { stop(): void } }).sub.stop());
    } finally {
      await server.close();
    }
  });

  browserTest('the pages load nothing from elsewhere, label their fields and fit a phone', async (tabs) => {
    const server = await startServer();
    try {
      const page = await tabs.open();
      const elsewhere: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(`${server.url}/`)) elsewhere.push(req.url());
      });
      await page.setViewportSize({ width: 360, height: 740 });
      for (const path of ['/', '/send']) {
        await page.goto(`${server.url}${path}`, { waitUntil: 'load' });
        const unlabelled = await page.evaluate(() =>
          Array.from(document.querySelectorAll('input, textarea, select'))
            .filter((field) => (field as HTMLInputElement).labels?.length === 0)
            .map((field) => field.id),
        );
        assert.deepEqual(unlabelled, [], `every field on ${path} has a label`);
        const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(sideways <= 0, `${path} does not scroll sideways on a phone (${sideways}px)`);
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      }
      // Keyboard order on the receiver page: uid, channels, token, Listen.
      await page.goto(`${server.url}/`);
      await page.getByLabel('Your uid').focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'channels');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'listen-button');
      assert.deepEqual(elsewhere, []);
    } finally {
      await server.close();
    }
  });
});

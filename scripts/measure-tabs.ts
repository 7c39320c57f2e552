/**
 * What tab sharing saves, measured: N tabs (1, 4, 8, 16) of one Chromium on one page's origin,
 * each subscribed to `news` with the client's defaults (shared) and with `shared: false`, while
 * `news` gets 20 messages a second for 5 s. For each: the subscribers the server holds (sampled
 * every 100 ms: mean and max; and before, while idle), the subscribe requests it gets per second,
 * how long a message takes from publish to the last tab (median and worst), whether every tab got
 * every message, and whether one more page of the server loads while the tabs wait.
 *
 *   npx tsx scripts/measure-tabs.ts            (needs Chromium, as the browser tests do)
 */
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { createHoldpushServer } from '../lib/index';
import { launchBrowser } from '../test/support/browser';

const RATE = 20; // messages per second
const SECONDS = 5;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  tabs: number;
  shared: boolean;
  heldMean: number;
  heldMax: number;
  requestsPerSecond: number;
  latencyMedian: number;
  latencyWorst: number;
  complete: number;
  loaded: string;
  idle: number;
}

async function measure(tabs: number, shared: boolean): Promise<Row> {
  const { server, holdpush } = createHoldpushServer({ log: 'off' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let requests = 0;
  server.on('request', (req) => {
    if (req.url?.startsWith('/sub/')) requests++;
  });
  const browser = await launchBrowser();
  try {
    // Every page loads first: once six tabs hold a poll each, a seventh page of the server does not load.
    const pages: Page[] = [];
    for (let i = 0; i < tabs; i++) {
      const page = await browser.context.newPage();
      await page.goto(`${url}/`);
      pages.push(page);
    }
    for (const page of pages) {
      await page.evaluate(`window.seen = []; window.sub = Holdpush.subscribe('news', function (m) { window.seen.push([Number(m.data), Date.now()]); }, { shared: ${shared} });`);
    }
    // Let the tabs settle (a leader elected, the polls held), up to 3 s.
    const want = shared ? 1 : tabs;
    for (let waited = 0; waited < 3000 && holdpush.stats().held.total < want; waited += 50) await sleep(50);
    await sleep(500);
    const idle = holdpush.stats().held.total;
    // One more page of the same server, with the polls held: does it load?
    const extra = await browser.context.newPage();
    const loadStarted = Date.now();
    const loaded = await extra.goto(`${url}/`, { timeout: 5000 }).then(() => `${Date.now() - loadStarted} ms`, () => 'not in 5 s');
    await extra.close();

    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(holdpush.stats().held.total), 100);
    requests = 0;
    const started = Date.now();
    const count = RATE * SECONDS;
    for (let i = 0; i < count; i++) {
      await holdpush.publish('news', String(Date.now()));
      const next = started + ((i + 1) * 1000) / RATE;
      await sleep(Math.max(0, next - Date.now()));
    }
    const elapsed = (Date.now() - started) / 1000;
    const perSecond = requests / elapsed;
    clearInterval(sampler);
    // Give slow tabs up to 10 s to get the rest.
    let seen: [number, number][][] = [];
    for (let waited = 0; waited < 10_000; waited += 200) {
      seen = await Promise.all(pages.map((page) => page.evaluate('window.seen') as Promise<[number, number][]>));
      if (seen.every((list) => list.length >= count)) break;
      await sleep(200);
    }
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      let last = 0;
      let sent = 0;
      for (const list of seen) {
        const entry = list[i];
        if (entry === undefined) continue;
        sent = entry[0];
        last = Math.max(last, entry[1]);
      }
      if (sent > 0) latencies.push(last - sent);
    }
    latencies.sort((a, b) => a - b);
    return {
      tabs,
      shared,
      heldMean: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
      heldMax: Math.max(...samples),
      requestsPerSecond: perSecond,
      latencyMedian: latencies[Math.floor(latencies.length / 2)] ?? NaN,
      latencyWorst: latencies[latencies.length - 1] ?? NaN,
      complete: seen.filter((list) => list.length === count).length,
      loaded,
      idle,
    };
  } finally {
    await browser.close();
    await holdpush.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const tabs of [1, 4, 8, 16]) {
    for (const shared of [true, false]) {
      const row = await measure(tabs, shared);
      rows.push(row);
      process.stderr.write(`${tabs} tabs, ${shared ? 'shared' : 'alone'} done\n`);
    }
  }
  console.log('| tabs | sharing | held while idle | held at 20 msg/s (mean / max) | subscribe requests per s | publish to last tab (median / worst) | tabs with all messages | another page of the server, while idle |');
  console.log('| ---: | --- | ---: | --- | ---: | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.tabs} | ${r.shared ? 'shared' : '`shared: false`'} | ${r.idle} | ${r.heldMean.toFixed(1)} / ${r.heldMax} | ${r.requestsPerSecond.toFixed(1)} | ${r.latencyMedian} ms / ${r.latencyWorst} ms | ${r.complete} of ${r.tabs} | ${r.loaded} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

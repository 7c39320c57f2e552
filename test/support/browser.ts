/** Chromium for the browser tests: one per file, tabs that leave a screenshot and a log when a test fails. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import type { CreateHoldpushOptions } from '../../lib/index';
import { type Running, startServer } from './servers';
import { waitFor } from './wait';

/** Debian's Chromium, which `.ci/run` installs (HOLDPUSH_CHROMIUM names another, e.g. to try the skip). */
export const CHROMIUM = process.env.HOLDPUSH_CHROMIUM || '/usr/bin/chromium';

/** Launch flags (DEVELOPERS.md): headless, no sandbox (root in CI), nothing phoning home. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * Why the browser tests are skipped, or undefined when they run. They are skipped only when
 * Chromium is missing on a developer's machine; in CI a missing Chromium fails them instead.
 */
export function browserSkip(): string | undefined {
  if (existsSync(CHROMIUM) || inCi()) return undefined;
  return `Chromium is not installed at ${CHROMIUM} (apt-get install chromium): browser tests skipped (they run, and must pass, in CI)`;
}

export interface BrowserSession {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** One Chromium for a test file, with a fresh profile folder that close() removes. */
export async function launchBrowser(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM} and CI is set: the browser tests must run in CI (.ci/run installs Debian's chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'holdpush-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  context.setDefaultTimeout(8000);
  context.setDefaultNavigationTimeout(8000);
  for (const page of context.pages()) await page.close();
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What a browser test is given: tabs it opens are closed after it, and shot if it fails. */
export interface Tabs {
  open(): Promise<Page>;
}

function fileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 120) || 'test';
}

/**
 * Runs `body` with tabs of the session. On failure (an assertion, or the test running past
 * `ms`) it saves `test-artifacts/<name>.png` (the first tab; others `<name>-tab<N>.png`) and
 * `<name>.txt` with each tab's address and console, then fails with the original error.
 */
export async function withTabs(session: BrowserSession, name: string, body: (tabs: Tabs) => Promise<void>, ms = 16_000): Promise<void> {
  const pages: Page[] = [];
  const logs: string[][] = [];
  const tabs: Tabs = {
    async open() {
      const page = await session.context.newPage();
      const log: string[] = [];
      page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`));
      page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
      pages.push(page);
      logs.push(log);
      return page;
    },
  };
  forgetEvidence(name);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`browser test still running after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([body(tabs), deadline]);
  } catch (error) {
    await keepEvidence(name, pages, logs);
    throw error;
  } finally {
    clearTimeout(timer);
    await Promise.all(pages.map((page) => page.close().catch(() => undefined)));
  }
}

/** Removes what an earlier failed run of this test left, so test-artifacts/ tells of this run. */
function forgetEvidence(name: string): void {
  const base = fileName(name);
  let names: string[];
  try {
    names = readdirSync(ARTIFACTS);
  } catch {
    return;
  }
  for (const file of names) {
    if (file === `${base}.png` || file === `${base}.txt` || (file.startsWith(`${base}-tab`) && file.endsWith('.png'))) {
      rmSync(join(ARTIFACTS, file), { force: true });
    }
  }
}

async function keepEvidence(name: string, pages: readonly Page[], logs: readonly string[][]): Promise<void> {
  const base = fileName(name);
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
  } catch {
    return;
  }
  const text: string[] = [];
  const shots = await Promise.all(
    pages.map((page, i) =>
      page
        .screenshot({ path: join(ARTIFACTS, i === 0 ? `${base}.png` : `${base}-tab${i + 1}.png`), timeout: 2500 })
        .then(() => '', (error: Error) => `  (no screenshot: ${error.message.split('\n')[0]})`),
    ),
  );
  for (const [i, page] of pages.entries()) {
    text.push(`tab ${i + 1}: ${page.url()}`, ...(shots[i] ? [shots[i] as string] : []), ...(logs[i] ?? []).map((line) => `  ${line}`));
  }
  try {
    writeFileSync(join(ARTIFACTS, `${base}.txt`), `${text.join('\n')}\n`);
  } catch {
    // evidence is a courtesy; the test's own error is what matters
  }
}

/**
 * Waits until the page has loaded and each of its images has loaded or failed. An image that
 * failed has run its onerror then: the error event fires in the task that marks it complete.
 */
export function settled(page: Page, ms = 5000): Promise<void> {
  return waitFor(
    () => page.evaluate(() => document.readyState === 'complete' && Array.from(document.images).every((image) => image.complete)),
    ms,
    'the page and its images to finish loading',
  );
}

// The starter, the wait and the pause the browser tests use live in servers.ts, wait.ts and
// node:timers; these names stay for them.
export { eventually } from './wait';
export { setTimeout as sleep } from 'node:timers/promises';

/** A holdpush server on 127.0.0.1 at a given port (a restart on the same port), logging off. */
export function startServerAt(port: number, options: CreateHoldpushOptions = {}): Promise<Running> {
  return startServer(options, { port });
}

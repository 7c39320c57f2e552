/** Starting holdpush for a test: in this process (createHoldpushServer) or as the CLI in a child. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, after, before } from 'node:test';
import { type CreateHoldpushOptions, type Holdpush, type HoldpushServer, createHoldpushServer } from '../../lib/index';
import { waitFor } from './wait';

const ROOT = join(__dirname, '..', '..');

export interface Running {
  readonly url: string;
  readonly port: number;
  readonly holdpush: Holdpush;
  readonly server: HoldpushServer['server'];
  close(): Promise<void>;
}

export interface ListenOptions {
  /** A port of its own choosing (a restart on the same port); 0 by default. */
  port?: number;
  /** What to do to the node:http server before it listens: its timeouts, a listener of the test's own. */
  prepare?: (server: HoldpushServer['server']) => void;
}

/**
 * A real holdpush server on 127.0.0.1, logging off unless asked. On a given port it waits up to
 * 3 s for the port to be free (a server that just went away may still hold it).
 */
export async function startServer(options: CreateHoldpushOptions = {}, listen: ListenOptions = {}): Promise<Running> {
  const { server, holdpush } = createHoldpushServer({ log: 'off', ...options });
  listen.prepare?.(server);
  const port = listen.port ?? 0;
  const tryListen = () =>
    new Promise<boolean>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error));
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', onError);
        resolve(true);
      });
    });
  try {
    await waitFor(tryListen, port === 0 ? 0 : 3000, `port ${port} to be free`);
  } catch (error) {
    await holdpush.close();
    throw error;
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    holdpush,
    server,
    async close() {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server for one test, closed when the test ends. */
export async function serve(t: TestContext, options: CreateHoldpushOptions = {}): Promise<Running> {
  const running = await startServer(options);
  t.after(() => running.close());
  return running;
}

/**
 * The server of the enclosing describe's tests: started before the first, closed after the
 * last. What it returns reads through to that server, so tests use it as a Running.
 */
export function suiteServer(options: CreateHoldpushOptions = {}, listen: ListenOptions = {}): Running {
  let running: Running | undefined;
  before(async () => {
    running = await startServer(options, listen);
  });
  after(() => running?.close());
  const current = (): Running => {
    if (running === undefined) throw new Error('the suite server starts before the first test');
    return running;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    get holdpush() {
      return current().holdpush;
    },
    get server() {
      return current().server;
    },
    close: () => current().close(),
  };
}

/** Waits until the server holds `count` subscribers. */
export function held(running: Running, count: number): Promise<void> {
  return waitFor(() => running.holdpush.stats().held.total === count, 5000, () => `${count} held (now ${running.holdpush.stats().held.total})`);
}

/** Publishes `count` messages `<prefix><i>` in order; returns their ids. */
export async function publishMany(running: Running, channel: string, count: number, prefix = 'm'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await running.holdpush.publish(channel, `${prefix}${i}`)).id);
  return ids;
}

/** The environment without anything that would configure holdpush behind a test's back. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'PORT' || key.startsWith('HOLDPUSH_')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

let checked = false;

/**
 * `relative` (a file of dist/) as built from the current lib/: `npm test` builds dist/ first; a
 * test file run alone rebuilds it here when lib/ is newer, so it never runs stale code.
 */
export function builtPath(relative: string): string {
  if (!checked) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'ensure-built.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    checked = true;
  }
  return join(ROOT, relative);
}

/** The CLI as installed: the `bin` of package.json, from dist/ (a tenth of the start-up time of running lib/ through tsx). */
function cliPath(): string {
  const { bin } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { holdpush: string } };
  return builtPath(bin.holdpush);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<Exit>;
  /** Resolves with the port once the `holdpush listening on` line is out. */
  readonly listening: Promise<number>;
  /** SIGTERM, then SIGKILL if it is still there after `ms`. */
  stop(ms?: number): Promise<Exit>;
}

/** Starts the CLI with `args` and a clean environment plus `env`. */
export function startCli(args: readonly string[], env: Record<string, string> = {}, listenMs = 8000): Child {
  const child = spawn(process.execPath, [cliPath(), ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const line = () => /holdpush listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
  const listening = waitFor(() => line() !== null || gone, listenMs, () => `the listening line; stdout ${JSON.stringify(out)} stderr ${JSON.stringify(err)}`).then(() => {
    const match = line();
    if (match === null) throw new Error(`exited before listening; stderr ${JSON.stringify(err)}`);
    return Number(match[1]);
  });
  listening.catch(() => undefined);
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    listening,
    async stop(ms = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), ms);
        const exit = await exited;
        clearTimeout(timer);
        return exit;
      }
      return exited;
    },
  };
}

/** Runs the CLI to its end (for --help and bad flags); SIGKILLs it after `ms`. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}, ms = 8000): Promise<Exit> {
  const child = startCli(args, env);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), ms);
  const exit = await child.exited;
  clearTimeout(timer);
  return exit;
}

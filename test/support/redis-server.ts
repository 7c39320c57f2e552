import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './http';

/** Where CI's `apt-get install redis-server` puts it; `REDIS_SERVER` overrides. */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it hard (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence unless `persist`). */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}


function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.startsWith('+PONG'));
      }
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Starts a private redis-server on a free port with a temporary folder. With `persist`, it
 * keeps an append-only file there, so a restart brings the data back. `args` are more
 * settings, e.g. `['--maxmemory', '2mb']`.
 */
export async function startRedis(options: { persist?: boolean; args?: readonly string[] } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER_BIN)) {
    throw new Error(`${REDIS_SERVER_BIN} is missing: install it (apt-get install redis-server), as .ci/run does`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', options.persist === true ? 'yes' : 'no', '--appendfsync', 'always', ...(options.args ?? [])];
    const proc = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited: ${stderr.slice(0, 500)}`);
      if (await ping(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    proc.kill('SIGKILL');
    throw new Error('redis-server did not answer within 5 s');
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

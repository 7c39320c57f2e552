/**
 * A holdpush server in a process of its own, so that its memory is its own: the child's side
 * (print the port, stop when the test's end of stdin closes, so it never outlives the test) and
 * the test's side (start it, wait for the port, stop it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Holdpush, HoldpushServer } from '../../lib/index';

/** In the child: listens on a free loopback port, prints `{"port": n}`, and stops with the test. */
export function serveAsChild(server: HoldpushServer['server'], holdpush: Holdpush, backlog: number): void {
  function stop(): void {
    holdpush.close().finally(() => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 2000).unref();
  }
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  server.listen({ port: 0, host: '127.0.0.1', backlog }, () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  });
}

export interface ChildServer {
  readonly child: ChildProcess;
  readonly port: number;
  /** Closes its stdin and waits for it to exit (SIGKILL past the grace period). */
  stop(graceMs?: number): Promise<void>;
}

/** In the test: runs `script` under node with `nodeArgs` and `args`, and waits for its port. */
export async function startChildServer(script: string, nodeArgs: readonly string[], args: readonly string[] = []): Promise<ChildServer> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${out}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /\{"port":(\d+)\}/.exec(out);
      if (line) {
        clearTimeout(timer);
        resolve(Number(line[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}): ${out}`));
    });
  });
  return {
    child,
    port,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(force);
    },
  };
}

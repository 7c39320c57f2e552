import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * The real CLI from source: `node --import tsx lib/cli/main.ts` (tsx's loader hook works on
 * Node 18.19+ and 20.6+), so no build step is needed and the coverage maps to lib/.
 */
export const CLI = [process.execPath, '--import', 'tsx', join(ROOT, 'lib', 'cli', 'main.ts')] as const;

/** The environment without anything that would configure holdpush behind a test's back. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'PORT' || key.startsWith('HOLDPUSH_')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
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

export function startCli(args: readonly string[], env: Record<string, string> = {}, listenMs = 8000): Child {
  const [node, ...pre] = CLI;
  const child = spawn(node, [...pre, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line after ${listenMs} ms; stdout ${JSON.stringify(out)} stderr ${JSON.stringify(err)}`)), listenMs);
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /holdpush listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`exited (${exit.code ?? exit.signal}) before listening; stderr ${JSON.stringify(exit.stderr)}`));
    });
  });
  listening.catch(() => undefined);
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
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

/** Runs the CLI to its end (for --help and bad flags). */
export async function runCli(args: readonly string[], env: Record<string, string> = {}, ms = 8000): Promise<Exit> {
  const child = startCli(args, env);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), ms);
  const exit = await child.exited;
  clearTimeout(timer);
  return exit;
}


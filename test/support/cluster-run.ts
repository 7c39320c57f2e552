import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { freePort } from './http';

export interface ClusterRun {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the primary and its workers printed. */
  output(): string;
  /** SIGTERM to the primary; resolves with its exit code (SIGKILLs the group after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

const APP = join(__dirname, 'cluster-app.ts');
const TSX = join(__dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** Spawns `test/support/cluster-app.ts` (the primary and its workers) in its own process group. */
export function spawnCluster(port: number, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [TSX, APP], {
    env: { ...process.env, HP_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

/** Starts the cluster app on a free port and waits until every worker listens. */
export async function startCluster(env: Record<string, string> = {}): Promise<ClusterRun> {
  const port = await freePort();
  const workers = Number(env.HP_WORKERS ?? 2);
  const child = spawnCluster(port, env);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15000;
  while ((out.match(/listening/g) ?? []).length < workers) {
    if (child.exitCode !== null || Date.now() > deadline) {
      killGroup(child);
      throw new Error(`cluster did not start: ${out.slice(0, 2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async stop(ms = 8000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child), ms);
      const code = await exited;
      clearTimeout(timer);
      killGroup(child);
      return code;
    },
  };
}

/** Kills the primary and every worker (they share its process group). */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** One request on the given agent (so that it reuses a connection, and so a worker). */
export function send(url: string, options: { agent?: Agent; method?: string; headers?: Record<string, string>; body?: string; timeout?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.setTimeout(options.timeout ?? 10000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface Pinned {
  readonly agent: Agent;
  readonly pid: number;
}

/**
 * Keep-alive connections pinned to workers: opens connections until it has `perWorker` of them
 * on each of `count` different worker processes. Returns them grouped by worker.
 */
export async function pinWorkers(url: string, count: number, perWorker = 1, tries = 60): Promise<Pinned[][]> {
  const found = new Map<number, Pinned[]>();
  const spare: Agent[] = [];
  const full = (): boolean => found.size >= count && [...found.values()].every((list) => list.length >= perWorker);
  for (let i = 0; i < tries && !full(); i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const reply = await send(`${url}/_worker`, { agent });
    const pid = (JSON.parse(reply.text) as { pid: number }).pid;
    const list = found.get(pid) ?? [];
    if (list.length >= perWorker || (!found.has(pid) && found.size >= count)) spare.push(agent);
    else {
      list.push({ agent, pid });
      found.set(pid, list);
    }
  }
  for (const agent of spare) agent.destroy();
  if (!full()) throw new Error(`pinned ${[...found.values()].map((l) => l.length).join('+')} connections, wanted ${count} workers x ${perWorker}`);
  return [...found.values()];
}

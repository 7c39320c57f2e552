import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './http';

/** Debian's nginx-light (`npm test`'s pretest installs it). */
export const NGINX = process.env.HOLDPUSH_NGINX || '/usr/sbin/nginx';

export interface Nginx {
  readonly port: number;
  readonly url: string;
  /** What nginx wrote to its error log so far. */
  errors(): string;
  /** Stops nginx (SIGTERM, then SIGKILL after 3 s) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * A main nginx.conf of its own around `server`, the inside of one `server { }` block: every
 * path nginx writes (pid, logs, temp files) in `dir`, listening on 127.0.0.1:`port`.
 */
function mainConfig(dir: string, port: number, server: string): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
lock_file ${dir}/nginx.lock;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${port};
${server}
    }
}
`;
}

/** Resolves when 127.0.0.1:`port` accepts a connection; rejects when `child` exits or after `ms`. */
async function accepting(port: number, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`nginx did not listen on ${port} within ${ms} ms`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts real nginx in the foreground with `server` as its one server block's inside. */
export async function startNginx(server: string): Promise<Nginx> {
  if (!existsSync(NGINX)) {
    throw new Error(`nginx is missing at ${NGINX}: install it with "apt-get install -y nginx-light" (npm test's pretest does), or set HOLDPUSH_NGINX`);
  }
  // A port found free may be taken before nginx binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'holdpush-nginx-'));
    // Run as root, nginx's workers drop to nobody and must reach their temp folders.
    chmodSync(dir, 0o755);
    const port = await freePort();
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, mainConfig(dir, port, server));
    const errorLog = join(dir, 'error.log');
    const child = spawn(NGINX, ['-p', `${dir}/`, '-c', conf, '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const errors = () => `${stderr}${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`;
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited(child);
        clearTimeout(force);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await accepting(port, child, 5000);
      return { port, url: `http://127.0.0.1:${port}`, errors, stop };
    } catch (error) {
      const log = errors();
      await stop();
      if (attempt < 3 && log.includes('Address already in use')) continue;
      throw new Error(`${(error as Error).message}\n${log}`);
    }
  }
}

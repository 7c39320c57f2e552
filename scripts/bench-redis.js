'use strict';
// The redis-server of `npm run bench`'s `holdpush-redis` target, and what it is asked per
// message. The bench starts its own (a free port, a temp dir of its own, no persistence), so
// its counters hold only the bench's traffic; INFO snapshots taken by the load process around
// the timed part of a job give commands, bytes and CPU per published message and per delivery.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const L = require('./bench-lib.js');

const BIN = process.env.REDIS_SERVER || '/usr/bin/redis-server';

function available() {
  return fs.existsSync(BIN) ? { ok: true } : { ok: false, reason: `${BIN} not found (apt-get install redis-server)` };
}

/** Sends one inline command and resolves with the reply's text (a bulk string's body), or null. */
function command(port, line, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => end(null), timeoutMs);
    function end(v) {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    }
    s.on('connect', () => s.write(line + '\r\n'));
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf[0] === '+' || buf[0] === '-') {
        if (buf.includes('\r\n')) end(buf.slice(0, buf.indexOf('\r\n')));
        return;
      }
      const nl = buf.indexOf('\r\n');
      if (buf[0] !== '$' || nl < 0) return;
      const len = Number(buf.slice(1, nl));
      if (Buffer.byteLength(buf, 'latin1') >= nl + 2 + len) end(buf.slice(nl + 2, nl + 2 + len));
    });
    s.on('error', () => end(null));
  });
}

/**
 * Starts redis-server with `spawn(cmd, args, options)` (the bench's pinned spawn): a private
 * one, no RDB, no AOF, so it never writes to disk while measured. Resolves {port, url, pid, stop}.
 */
async function start(spawn, freePort) {
  const av = available();
  if (!av.ok) throw new Error(av.reason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdpush-bench-redis-'));
  const port = await freePort();
  const child = spawn(BIN, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxclients', '1000'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if ((await command(port, 'PING', 500)) === '+PONG') {
      // taskset execs redis-server: the pid is redis-server's own.
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        pid: child.pid,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((r) => child.once('exit', r));
            child.kill('SIGKILL');
            await Promise.race([exited, L.sleep(5000)]);
          }
          cleanup();
        },
      };
    }
    await L.sleep(25);
  }
  child.kill('SIGKILL');
  cleanup();
  throw new Error('redis-server did not answer PING within 5 s: ' + err.trim());
}

/** Command calls (by command, `info` left out: it is ours), network bytes and CPU seconds now. */
async function snapshot(port, pid) {
  const text = await command(port, 'INFO everything');
  if (text == null) return null;
  const calls = {};
  let input = null;
  let output = null;
  for (const line of text.split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m && m[1] !== 'info') calls[m[1]] = Number(m[2]);
    else if (line.startsWith('total_net_input_bytes:')) input = Number(line.slice(22));
    else if (line.startsWith('total_net_output_bytes:')) output = Number(line.slice(23));
  }
  return { calls, input, output, cpu: pid ? L.cpuSeconds([pid]) : null };
}

/**
 * What Redis did between two snapshots, per published message and per delivery. The
 * presence tick (one script per server every 500 ms) and our INFO reply's bytes are included:
 * they are what a deployment's Redis sees too (the reply is a few KB per job, not per message).
 */
function delta(a, b, published, deliveries) {
  if (!a || !b) return null;
  const byCommand = {};
  let total = 0;
  for (const [k, v] of Object.entries(b.calls)) {
    const d = v - (a.calls[k] || 0);
    if (d > 0) {
      byCommand[k] = d;
      total += d;
    }
  }
  const per = (x, n) => (n ? x / n : null);
  const bytesIn = b.input - a.input;
  const bytesOut = b.output - a.output;
  const cpu = a.cpu == null || b.cpu == null ? null : b.cpu - a.cpu;
  return {
    published,
    deliveries,
    commands: total,
    byCommand,
    commandsPerPublished: per(total, published),
    commandsPerDelivery: per(total, deliveries),
    byCommandPerPublished: Object.fromEntries(Object.entries(byCommand).map(([k, v]) => [k, v / published])),
    bytesIn,
    bytesOut,
    bytesInPerPublished: per(bytesIn, published),
    bytesOutPerPublished: per(bytesOut, published),
    cpuS: cpu,
    cpuUsPerDelivery: cpu == null ? null : per(cpu * 1e6, deliveries),
  };
}

module.exports = { available, start, snapshot, delta };

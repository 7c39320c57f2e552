'use strict';
// Shared pieces of `npm run bench`: a minimal HTTP/1.1 client on raw `net` sockets (pre-built
// request bytes, keep-alive, just enough response parsing: status line, Content-Length,
// chunked, Etag, Last-Modified, Content-Type, streaming bodies for EventSource), /proc readers
// for server CPU and memory, and small statistics helpers. No dependencies.
const net = require('node:net');
const fs = require('node:fs');
const crypto = require('node:crypto');

/** Milliseconds on CLOCK_MONOTONIC: comparable across processes on one machine. */
function hr() {
  return Number(process.hrtime.bigint()) / 1e6;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const MAX_HEAD = 64 * 1024;

/**
 * One keep-alive connection. Options: host, port, localAddress, onConnect(conn),
 * onResponse(conn, res) for each complete response, onHead(conn, res) when a head is parsed
 * (set conn.streaming = true there to get the body as it comes through onData(conn, str)),
 * onClose(conn, hadError). res: {status, etag, lastModified, contentType, body (latin1)}.
 */
class Conn {
  constructor(o) {
    this.o = o;
    this.sock = null;
    this.buf = null;
    this.phase = 0; // 0 head, 1 Content-Length body, 2 chunked, 3 until close
    this.cstate = 0; // chunked: 0 size line, 1 data, 2 CRLF after data, 3 after last chunk
    this.remaining = 0;
    this.parts = null;
    this.res = null;
    this.streaming = false;
    this.connected = false;
    this.closed = false;
    this.error = null;
    this.responses = 0;
    this.u = null; // caller's state
  }

  connect() {
    const o = this.o;
    const opts = { host: o.host, port: o.port };
    if (o.localAddress) opts.localAddress = o.localAddress;
    const s = net.connect(opts);
    this.sock = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      if (o.onConnect) o.onConnect(this);
    });
    s.on('data', (d) => this.feed(d));
    s.on('error', (e) => {
      this.error = e;
    });
    s.on('close', (hadError) => {
      this.closed = true;
      if (this.phase === 3 && this.res) this.finish(this.parts.join(''));
      if (o.onClose) o.onClose(this, hadError || !!this.error);
    });
    return this;
  }

  write(buf) {
    if (!this.closed) this.sock.write(buf);
  }

  destroy() {
    if (this.sock && !this.closed) this.sock.destroy();
  }

  finish(body) {
    const res = this.res;
    res.body = body;
    this.res = null;
    this.parts = null;
    this.phase = 0;
    this.streaming = false;
    this.responses++;
    if (this.o.onResponse) this.o.onResponse(this, res);
  }

  data(str) {
    if (this.streaming) {
      if (this.o.onData) this.o.onData(this, str);
    } else this.parts.push(str);
  }

  feed(d) {
    let b = d;
    if (this.buf) {
      b = Buffer.concat([this.buf, d]);
      this.buf = null;
    }
    let off = 0;
    const len = b.length;
    // Each pass consumes bytes or returns, so this loop is bounded by the chunk's length.
    for (let guard = 0; off < len && guard <= len + 1; guard++) {
      if (this.phase === 0) {
        const e = b.indexOf(CRLFCRLF, off);
        if (e < 0) {
          if (len - off > MAX_HEAD) return this.fail('response head too large');
          this.buf = b.subarray(off);
          return;
        }
        const head = b.toString('latin1', off, e);
        off = e + 4;
        const res = { status: 0, etag: null, lastModified: null, contentType: null, body: '' };
        res.status = parseInt(head.slice(9, 12), 10);
        // Five searches in the lower-cased head instead of splitting and lower-casing every
        // line: the parse is per response, and the load generator must stay the cheaper side.
        const lower = head.toLowerCase();
        const cl = headerValue(head, lower, '\r\ncontent-length:');
        const te = headerValue(head, lower, '\r\ntransfer-encoding:');
        const chunked = te !== null && te.toLowerCase().includes('chunked');
        res.etag = headerValue(head, lower, '\r\netag:');
        res.lastModified = headerValue(head, lower, '\r\nlast-modified:');
        res.contentType = headerValue(head, lower, '\r\ncontent-type:');
        const length = cl === null ? -1 : parseInt(cl, 10);
        if (res.status >= 100 && res.status < 200) continue; // 100 Continue: skip
        this.res = res;
        this.parts = [];
        this.streaming = false;
        if (this.o.onHead) this.o.onHead(this, res);
        if (res.status === 204 || res.status === 304 || (length === 0 && !chunked)) {
          this.finish('');
        } else if (chunked) {
          this.phase = 2;
          this.cstate = 0;
        } else if (length > 0) {
          this.phase = 1;
          this.remaining = length;
        } else {
          this.phase = 3;
        }
      } else if (this.phase === 1 || (this.phase === 2 && this.cstate === 1)) {
        const n = Math.min(this.remaining, len - off);
        this.data(b.toString('latin1', off, off + n));
        off += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          if (this.phase === 1) this.finish(this.parts.join(''));
          else this.cstate = 2;
        }
      } else if (this.phase === 2) {
        if (this.cstate === 0) {
          const e = b.indexOf(CRLF, off);
          if (e < 0) {
            if (len - off > 1024) return this.fail('bad chunk size line');
            this.buf = b.subarray(off);
            return;
          }
          const size = parseInt(b.toString('latin1', off, e), 16);
          off = e + 2;
          if (!(size >= 0)) return this.fail('bad chunk size');
          if (size === 0) this.cstate = 3;
          else {
            this.remaining = size;
            this.cstate = 1;
          }
        } else if (this.cstate === 2 || this.cstate === 3) {
          if (len - off < 2) {
            this.buf = b.subarray(off);
            return;
          }
          if (b[off] === 13 && b[off + 1] === 10) {
            off += 2;
            if (this.cstate === 2) this.cstate = 0;
            else this.finish(this.parts ? this.parts.join('') : '');
          } else if (this.cstate === 3) {
            // trailers: skip to the blank line
            const e = b.indexOf(CRLFCRLF, off);
            if (e < 0) {
              this.buf = b.subarray(off);
              return;
            }
            off = e + 4;
            this.finish(this.parts ? this.parts.join('') : '');
          } else return this.fail('missing CRLF after chunk');
        }
      } else {
        // phase 3: body until close
        this.data(b.toString('latin1', off));
        off = len;
      }
    }
  }

  fail(why) {
    this.error = new Error(why);
    this.destroy();
  }
}

/** A header's value (the first of that name), found by `\r\n<name>:` in the lower-cased head. */
function headerValue(head, lower, key) {
  const at = lower.indexOf(key);
  if (at < 0) return null;
  const end = head.indexOf('\r\n', at + key.length);
  return head.slice(at + key.length, end < 0 ? head.length : end).trim();
}

// ---- request bytes ------------------------------------------------------------------------

/**
 * What a server variant (scripts/bench-variants.js) wants its clients to prove: `subscribeSecret`
 * (every subscribe carries an HS256 JWT naming its channels, signed with it) and `publishToken`
 * (every publish and channel-info request carries it as a Bearer token). One process talks to
 * one server at a time, so it is set per process (a load job, or the orchestrator in W5).
 */
let auth = null;
const jwts = new Map();

function setAuth(a) {
  auth = a && (a.subscribeSecret || a.publishToken) ? a : null;
  jwts.clear();
}

function subscriberAuth(path) {
  if (!auth || !auth.subscribeSecret) return '';
  const q = path.indexOf('?');
  const channels = decodeURIComponent(path.slice(path.indexOf('/', 1) + 1, q < 0 ? path.length : q));
  let token = jwts.get(channels);
  if (!token) {
    token = signJwt({ holdpush: { subscribe: channels.split(',') } }, auth.subscribeSecret);
    if (jwts.size < 10000) jwts.set(channels, token);
  }
  return 'Authorization: Bearer ' + token + '\r\n';
}

function publisherAuth() {
  return auth && auth.publishToken ? 'Authorization: Bearer ' + auth.publishToken + '\r\n' : '';
}

function signJwt(claims, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = part({ alg: 'HS256', typ: 'JWT' }) + '.' + part(claims);
  return unsigned + '.' + crypto.createHmac('sha256', secret).update(unsigned).digest('base64url');
}

/** GET for a subscriber. pos: {etag, lastModified} or null; accept: header value or null. */
function subRequest(path, pos, accept) {
  let s = 'GET ' + path + ' HTTP/1.1\r\nHost: 127.0.0.1\r\n' + subscriberAuth(path);
  if (accept) s += 'Accept: ' + accept + '\r\n';
  if (pos && pos.etag != null) s += 'If-None-Match: ' + pos.etag + '\r\n';
  if (pos && pos.lastModified) s += 'If-Modified-Since: ' + pos.lastModified + '\r\n';
  return Buffer.from(s + '\r\n', 'latin1');
}

function pubRequest(path, body) {
  const b = Buffer.from(body);
  const h =
    'POST ' +
    path +
    ' HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
    publisherAuth() +
    'Content-Type: text/plain\r\nContent-Length: ' +
    b.length +
    '\r\n\r\n';
  return Buffer.concat([Buffer.from(h, 'latin1'), b]);
}

function infoRequest(path) {
  return Buffer.from(
    'GET ' + path + ' HTTP/1.1\r\nHost: 127.0.0.1\r\n' + publisherAuth() + 'Accept: application/json\r\n\r\n',
    'latin1'
  );
}

/** A message body carrying its sequence number: `#<seq>#` padded with `x` to `size` bytes. */
function messageBody(seq, size) {
  const m = '#' + seq + '#';
  return m.length >= size ? m : m + 'x'.repeat(size - m.length);
}

/** Calls fn(seq) for each `#<seq>#` marker in s; returns how many. */
function eachSeq(s, fn) {
  let n = 0;
  let i = s.indexOf('#');
  while (i >= 0) {
    const j = s.indexOf('#', i + 1);
    if (j < 0) break;
    const v = j > i + 1 && j - i < 12 ? Number(s.slice(i + 1, j)) : NaN;
    if (Number.isInteger(v)) {
      fn(v);
      n++;
      i = s.indexOf('#', j + 1);
    } else i = j;
  }
  return n;
}

function subscribersFrom(body) {
  let m = /"subscribers"\s*:\s*(\d+)/.exec(body);
  if (!m) m = /active subscribers:\s*(\d+)/.exec(body);
  return m ? Number(m[1]) : -1;
}

// ---- one-shot requests ---------------------------------------------------------------------

/** Sends bytes on a fresh connection and resolves with the first response (or null on error). */
function once(host, port, bytes, timeoutMs = 10000) {
  return new Promise((resolve) => {
    let done = false;
    const t = setTimeout(() => end(null), timeoutMs);
    const c = new Conn({
      host,
      port,
      onConnect: (cc) => cc.write(bytes),
      onResponse: (_cc, res) => end(res),
      onClose: () => end(null),
    });
    function end(v) {
      if (done) return;
      done = true;
      clearTimeout(t);
      c.destroy();
      resolve(v);
    }
    c.connect();
  });
}

/** A keep-alive connection for sequential requests: await kc.request(bytes). */
class KeepAlive {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.conn = null;
    this.pending = null;
  }
  open() {
    return new Promise((resolve) => {
      this.conn = new Conn({
        host: this.host,
        port: this.port,
        onConnect: () => resolve(true),
        onResponse: (_c, res) => {
          const p = this.pending;
          this.pending = null;
          if (p) p(res);
        },
        onClose: () => {
          const p = this.pending;
          this.pending = null;
          if (p) p(null);
          resolve(false);
        },
      }).connect();
    });
  }
  async request(bytes, timeoutMs = 10000) {
    if (!this.conn || this.conn.closed) {
      if (!(await this.open())) return null;
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending = null;
        this.conn.destroy();
        resolve(null);
      }, timeoutMs);
      this.pending = (res) => {
        clearTimeout(t);
        resolve(res);
      };
      this.conn.write(bytes);
    });
  }
  close() {
    if (this.conn) this.conn.destroy();
  }
}

/** Polls channel info until it reports at least n subscribers, or the deadline passes. */
async function waitSubscribers(kc, path, n, timeoutMs, stableMs = 0) {
  const bytes = infoRequest(path);
  const t0 = hr();
  const deadline = t0 + timeoutMs;
  let last = -1;
  let changedAt = t0;
  for (let i = 0; i < 100000 && hr() < deadline; i++) {
    const res = await kc.request(bytes, 5000);
    if (res && res.status === 200) {
      const seen = subscribersFrom(res.body);
      if (seen < 0) return { ok: false, seen, unsupported: true, ms: hr() - t0 };
      if (seen >= n) return { ok: true, seen, ms: hr() - t0 };
      if (seen !== last) changedAt = hr();
      last = seen;
      if (stableMs && hr() - changedAt > stableMs) break;
    }
    await sleep(i < 20 ? 1 : 3);
  }
  return { ok: false, seen: last, ms: hr() - t0 };
}

/**
 * Opens n connections, at most `concurrency` connecting at once. make(i) returns an
 * unconnected Conn whose onConnect writes its first request. Resolves {opened, failed, ms}.
 */
async function openMany(n, make, concurrency, timeoutMs, wave = 0, waveWait = null) {
  if (!wave || !waveWait || n <= wave) {
    const r = await openBurst(n, make, concurrency, timeoutMs);
    if (wave && waveWait && r.opened) r.paced = await waveWait(r.opened);
    return r;
  }
  // In waves, each confirmed held by the server before the next: a burst larger than the
  // server's accept queue would only measure SYN retransmission timers.
  const t0 = hr();
  const deadline = t0 + timeoutMs;
  const acc = { opened: 0, failed: 0, ms: 0, conns: [], paced: true };
  for (let start = 0; start < n && hr() < deadline; ) {
    const size = acc.paced ? Math.min(wave, n - start) : n - start;
    const base = start;
    const r = await openBurst(size, (i) => make(base + i), concurrency, Math.max(1, deadline - hr()));
    acc.opened += r.opened;
    acc.failed += r.failed;
    for (const c of r.conns) acc.conns.push(c);
    start += size;
    if (acc.paced && !(await waveWait(acc.opened))) acc.paced = false;
  }
  acc.ms = hr() - t0;
  return acc;
}

function openBurst(n, make, concurrency, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = hr();
    let next = 0;
    let inflight = 0;
    let opened = 0;
    let failed = 0;
    const conns = [];
    let done = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ opened, failed, ms: hr() - t0, conns });
    }
    function launch() {
      while (!done && inflight < concurrency && next < n) {
        const i = next++;
        inflight++;
        const c = make(i);
        conns.push(c);
        const oc = c.o.onConnect;
        const ocl = c.o.onClose;
        let settled = false;
        c.o.onConnect = (cc) => {
          if (!settled) {
            settled = true;
            inflight--;
            opened++;
          }
          if (oc) oc(cc);
          step();
        };
        c.o.onClose = (cc, err) => {
          if (!settled) {
            settled = true;
            inflight--;
            failed++;
            step();
          }
          if (ocl) ocl(cc, err);
        };
        c.connect();
      }
    }
    function step() {
      if (opened + failed >= n) finish();
      else launch();
    }
    if (n === 0) finish();
    else launch();
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- /proc ---------------------------------------------------------------------------------

/** pid and all its descendants (scans /proc). */
function processTree(pid) {
  const parent = new Map();
  let names = [];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [pid];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = fs.readFileSync('/proc/' + name + '/stat', 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
    } catch {
      /* gone */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length && i < 10000; i++) {
    for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  }
  return out;
}

/** TcpExt ListenOverflows (SYNs dropped because an accept queue was full), machine-wide. */
function listenOverflows() {
  try {
    const lines = fs.readFileSync('/proc/net/netstat', 'latin1').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i].startsWith('TcpExt:')) continue;
      const names = lines[i].split(' ');
      const vals = lines[i + 1].split(' ');
      const k = names.indexOf('ListenOverflows');
      return k > 0 ? Number(vals[k]) : null;
    }
  } catch {
    /* not Linux */
  }
  return null;
}

let CLK_TCK = 100;
try {
  CLK_TCK = Number(require('node:child_process').execSync('getconf CLK_TCK').toString()) || 100;
} catch {
  /* default */
}

/** Summed user + system CPU seconds of the given pids. */
function cpuSeconds(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return t / CLK_TCK;
}

/** Summed VmRSS (bytes) and, where readable, Pss (bytes) of the given pids. */
// The resident part of the brk heap: glibc's main malloc arena, where node's C++ side of a
// connection lives (V8's heap is in anonymous mappings, not here). W2 shows it apart because on
// Node 26 it grows by 4,000 bytes per held connection for any node:http server (scripts/BENCH.md).
function brkHeapRss(pid) {
  try {
    const m = /\[heap\]\n(?:[^\n]*\n)*?Rss:\s+(\d+) kB/.exec(fs.readFileSync('/proc/' + pid + '/smaps', 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function memory(pids) {
  let rss = 0;
  let pss = 0;
  let brk = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/' + pid + '/status', 'latin1'));
      if (m) rss += Number(m[1]) * 1024;
    } catch {
      /* gone */
    }
    try {
      const m = /Pss:\s+(\d+) kB/.exec(fs.readFileSync('/proc/' + pid + '/smaps_rollup', 'latin1'));
      if (m) pss += Number(m[1]) * 1024;
    } catch {
      /* not there */
    }
    brk += brkHeapRss(pid);
  }
  return { rss, pss, brk };
}

// ---- statistics ----------------------------------------------------------------------------

function quantile(xs, q) {
  if (!xs.length) return null;
  const a = xs.slice().sort((x, y) => x - y);
  const i = Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1));
  return a[i];
}
function median(xs) {
  if (!xs.length) return null;
  const a = xs.slice().sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}
function sum(xs) {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

module.exports = {
  hr,
  Conn,
  KeepAlive,
  once,
  openMany,
  waitSubscribers,
  setAuth,
  signJwt,
  subRequest,
  pubRequest,
  infoRequest,
  messageBody,
  eachSeq,
  subscribersFrom,
  sleep,
  processTree,
  cpuSeconds,
  memory,
  listenOverflows,
  quantile,
  median,
  sum,
};

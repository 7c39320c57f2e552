#!/usr/bin/env node
'use strict';
// The load generator of `npm run bench`, one process per job (scripts/bench.js starts it with an
// IPC channel, pinned to its own core). It gets {type: 'job', job} and answers with
// {type: 'result', result}; a W5 `hold` job also reports {type: 'opened'} and waits for
// {type: 'finish'}. Everything it does is bounded in count and time: the job's deadline is a
// watchdog that reports what it has and exits, and it exits when its parent goes away.
//
// Clients speak to 127.0.0.1 only (W5 may bind other 127.0.0.x source addresses).
const L = require('./bench-lib.js');
const socketio = require('./bench-socketio.js');
const R = require('./bench-redis.js');

const {
  hr,
  Conn,
  KeepAlive,
  once,
  openMany,
  waitSubscribers,
  subRequest,
  pubRequest,
  messageBody,
  eachSeq,
  sleep,
  processTree,
  cpuSeconds,
  memory,
  listenOverflows,
  quantile,
  median,
  sum,
} = L;

const OPEN_CONCURRENCY = Number(process.env.HOLDPUSH_BENCH_OPEN_CONCURRENCY) || 256;
const MAX_REPOLLS_PER_SUB = 100000;
const MAX_RECONNECTS = 5;
const WAVE = 400; // connections opened before the server is asked to confirm them held

/**
 * Waits until the server counts `base + k` held on the channel. A server of several processes
 * may count only those of the process that answers: then, from the first wave that does not
 * add up, a wave is done when that count has stood still for 50 ms. False (stop pacing) when
 * the server has no count at all.
 */
function waveWaiter(info, infoPath, base = 0) {
  let partial = false;
  return async (k) => {
    const w = await waitSubscribers(info, infoPath, base + k, 15000, partial ? 50 : 2000);
    if (w.unsupported || w.seen < 0) return false;
    if (!w.ok) partial = true;
    return true;
  };
}

function assertLoopback(host, localAddress) {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host)) throw new Error('bench load targets 127.0.0.x only');
  if (localAddress && !/^127\.\d+\.\d+\.\d+$/.test(localAddress)) {
    throw new Error('bench load binds 127.0.0.x only');
  }
}

/** Request bytes cache: one Buffer per distinct position. */
function requestCache(build) {
  const m = new Map();
  return (key, ...args) => {
    let b = m.get(key);
    if (!b) {
      b = build(...args);
      if (m.size < 100000) m.set(key, b);
    }
    return b;
  };
}

/** Share of one core this process used between two instants (1 = the load generator is the limit). */
function loadBusy(c0, t0, t1) {
  const c = process.cpuUsage(c0);
  return t1 > t0 ? (c.user + c.system) / 1000 / (t1 - t0) : null;
}

function cpuOf(pid) {
  return pid ? cpuSeconds(processTree(pid)) : null;
}

/** Every process of the server(s) under test: several servers (one Redis) give serverPids. */
function serverProcesses(job) {
  const roots = job.serverPids || (job.serverPid ? [job.serverPid] : []);
  return roots.flatMap((pid) => processTree(pid));
}

/** Subscriber i's server: with several (servers on one Redis) they are split evenly. */
function portOf(job, i) {
  return job.ports && job.ports.length ? job.ports[i % job.ports.length] : job.port;
}

/** Redis counters at the edges of the timed part (the holdpush-redis target only). */
function redisSnapshot(job) {
  return job.redisPort ? R.snapshot(job.redisPort, job.redisPid) : Promise.resolve(null);
}

/** POST with a JSON body (W6's batch publish). */
function jsonRequest(path, body) {
  const b = Buffer.from(body);
  const h = 'POST ' + path + ' HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ' + b.length + '\r\n\r\n';
  return Buffer.concat([Buffer.from(h, 'latin1'), b]);
}

/** Where a held subscriber stands: single-message (Etag/Last-Modified) or batch (last id). */
function makePoller(job, subPath) {
  const mode = job.mode || 'single'; // single | batch | multipart | sse
  if (mode === 'batch') {
    const get = requestCache((id) =>
      subRequest(
        id ? subPath + '?last_event_id=' + encodeURIComponent(id) : subPath,
        null,
        'application/json'
      )
    );
    return {
      request: (pos) => get(pos ? pos.id : '', pos ? pos.id : null),
      next: (res, pos) => {
        const m = /"last"\s*:\s*"([^"]*)"/.exec(res.body);
        return m ? { id: m[1] } : pos;
      },
      carried: (res, pos) => (res.etag ? { id: res.etag } : pos),
      gap: (res) => /"gap"\s*:\s*true/.test(res.body),
    };
  }
  const accept = mode === 'sse' ? 'text/event-stream' : null;
  const get = requestCache((pos) => subRequest(subPath, pos, accept));
  return {
    request: (pos) => get(pos ? pos.etag + '|' + pos.lastModified : '', pos),
    next: (res, pos) =>
      job.positions && res.etag != null ? { etag: res.etag, lastModified: res.lastModified } : pos,
    carried: (res, pos) =>
      job.positions && res.etag != null
        ? { etag: res.etag, lastModified: res.lastModified || (pos && pos.lastModified) }
        : pos,
    gap: () => false,
  };
}

/** The position just after the warm-up message `#0#` (servers with positions only). */
async function warmupPosition(job, pub, subPathSingle) {
  const r1 = await pub.request(pubRequest(job.pubPath, messageBody(0, job.size)));
  if (!r1 || r1.status >= 300) throw new Error('warm-up publish failed: ' + (r1 && r1.status));
  const r2 = await once(job.host, job.port, subRequest(subPathSingle, null, null), 10000);
  if (!r2 || r2.status !== 200) throw new Error('warm-up subscribe failed: ' + (r2 && r2.status));
  return { etag: r2.etag, lastModified: r2.lastModified, id: r2.etag };
}

/**
 * A set of subscribers that re-poll with their position. onMessage(u, seq) per marker seen.
 * policy(u) after a 200: 'now' re-polls at once, anything else leaves u idle.
 */
function makeSubscribers(job, subPath, opts) {
  if (job.mode === 'socketio') return socketio.makeSubscribers(job, subPath, opts);
  const poller = makePoller(job, subPath);
  const stats = { statuses: {}, errors: 0, reconnects: 0, repolls: 0, gaps: 0, responses: 0 };
  const subs = [];
  let running = true;

  function connFor(u, first) {
    return new Conn({
      host: job.host,
      port: u.port,
      localAddress: job.localAddress,
      onConnect: (c) => {
        if (first || !u.idle) c.write(poller.request(u.pos));
      },
      onHead: opts.onHead,
      onData: opts.onData,
      onResponse: (c, res) => {
        stats.responses++;
        const st = res.status;
        if (st === 200) {
          if (opts.onBody) opts.onBody(u, res.body);
          else eachSeq(res.body, (k) => opts.onMessage(u, k));
          if (poller.gap(res)) stats.gaps++;
          u.pos = poller.next(res, u.pos);
          if (running && opts.policy(u) === 'now') c.write(poller.request(u.pos));
          else u.idle = true;
        } else {
          stats.statuses[st] = (stats.statuses[st] || 0) + 1;
          u.pos = poller.carried(res, u.pos);
          if (st !== 408 && st !== 204 && st !== 304) stats.errors++;
          if (running && ++u.repolls < MAX_REPOLLS_PER_SUB && (st === 408 || st === 204 || st === 304)) {
            stats.repolls++;
            c.write(poller.request(u.pos));
          } else u.idle = true;
        }
      },
      onClose: (c) => {
        if (c !== u.conn || !running || u.idle || opts.noReconnect) return;
        if (u.reconnects++ >= MAX_RECONNECTS) return;
        stats.reconnects++;
        u.conn = connFor(u, false).connect();
      },
    });
  }

  function make(i, pos) {
    const u = { i, port: portOf(job, i), pos, conn: null, idle: false, repolls: 0, reconnects: 0, got: 0, last: 0, done: 0 };
    u.conn = connFor(u, true);
    subs.push(u);
    return u.conn;
  }

  function poll(u) {
    u.idle = false;
    if (u.conn && !u.conn.closed) u.conn.write(poller.request(u.pos));
    else if (u.reconnects++ < MAX_RECONNECTS) {
      stats.reconnects++;
      u.conn = connFor(u, false).connect();
    }
  }

  function stop() {
    running = false;
    for (const u of subs) u.conn.destroy();
  }
  return { subs, make, poll, stop, stats };
}

// ---- W1 / W4: fan-out ---------------------------------------------------------------------

async function fanout(job) {
  const n = job.n;
  const warm = job.warmupMessages || 0; // published and checked, not timed
  const M = job.messages + warm;
  const sse = job.mode === 'sse';
  const pub = new KeepAlive(job.host, job.port);
  const info = new KeepAlive(job.host, job.port);
  const result = { n, messages: job.messages, warmupMessages: warm, style: job.style, mode: job.mode || 'single' };
  const pos0 = job.positions && !sse ? await warmupPosition(job, pub, job.subPath) : null;

  const got = new Uint8Array(n * (M + 1));
  const count = new Int32Array(M + 2);
  let current = 0;
  let onComplete = null;
  let dup = 0;
  let ready = 0;
  function mark(u, k) {
    if (!(k >= 1 && k <= M)) return;
    const idx = u.i * (M + 1) + k;
    if (got[idx]) {
      dup++;
      return;
    }
    got[idx] = 1;
    if (++count[k] === n && k === current && onComplete) onComplete();
  }
  const S = makeSubscribers(job, job.subPath, {
    onMessage: mark,
    policy: () => (job.style === 'immediate' ? 'now' : 'later'),
    noReconnect: sse,
    onHead: sse
      ? (c, res) => {
          if (res.status === 200) {
            c.streaming = true;
            c.u.tail = '';
            ready++;
          }
        }
      : undefined,
    onData: sse
      ? (c, str) => {
          const u = c.u;
          const s = u.tail + str;
          const e = s.lastIndexOf('\n');
          if (e < 0) {
            u.tail = s.length > 65536 ? '' : s;
            return;
          }
          u.tail = s.slice(e + 1);
          eachSeq(s.slice(0, e), (k) => mark(u.sub, k));
        }
      : undefined,
  });
  const ov0 = listenOverflows();
  const opened = await openMany(
    n,
    (i) => {
      const c = S.make(i, pos0);
      c.u = { sub: S.subs[i], tail: '' };
      return c;
    },
    job.openConcurrency || OPEN_CONCURRENCY,
    job.openTimeoutMs || 120000,
    WAVE,
    waveWaiter(info, job.infoPath)
  );
  result.listenOverflows = ov0 == null ? null : listenOverflows() - ov0;
  result.paced = opened.paced;
  result.opened = opened.opened;
  result.openFailed = opened.failed;
  result.openMs = opened.ms;
  const held0 = await waitSubscribers(info, job.infoPath, n, 30000, 3000);
  result.heldConfirmed = held0.ok;
  result.heldSeen = held0.seen;
  if (sse) {
    for (let i = 0; i < 5000 && ready < opened.opened; i++) await sleep(2);
    result.streamsReady = ready;
  }

  const pids = serverProcesses(job);
  let cpu0 = pids.length && !warm ? cpuSeconds(pids) : null;
  let redis0 = warm ? null : await redisSnapshot(job);
  const times = [];
  let timeouts = 0;
  let settleMisses = 0;
  let skipSettle = job.positions && !held0.ok;
  let sentCount = 0;
  const pubStatuses = {};
  const tStart = hr();
  let lc0 = process.cpuUsage();
  let lt0 = tStart;
  for (let k = 1; k <= M; k++) {
    if (k === warm + 1) {
      redis0 = await redisSnapshot(job);
      if (pids.length) cpu0 = cpuSeconds(pids);
      lc0 = process.cpuUsage();
      lt0 = hr();
    }
    if (hr() > job.deadline) {
      result.aborted = 'deadline';
      break;
    }
    current = k;
    const t0 = hr();
    const complete = new Promise((resolve) => {
      const timer = setTimeout(() => {
        onComplete = null;
        resolve(-1);
      }, job.messageTimeoutMs || 10000);
      onComplete = () => {
        const t1 = hr();
        clearTimeout(timer);
        onComplete = null;
        resolve(t1 - t0);
      };
    });
    const pr = pub.request(pubRequest(job.pubPath, messageBody(k, job.size)));
    sentCount++;
    const dt = await complete;
    const r = await pr;
    const st = r ? r.status : 0;
    pubStatuses[st] = (pubStatuses[st] || 0) + 1;
    if (dt < 0) timeouts++;
    else if (k > warm) times.push(dt);
    if (sse) continue;
    if (job.style !== 'immediate') for (const u of S.subs) if (u.idle) S.poll(u);
    // Wait until every re-poll is held before the next publish (the baseline, without
    // positions, would lose the message otherwise). A server with positions loses nothing
    // either way, so when its count does not add up the wait is skipped rather than stalled.
    if (k < M && !skipSettle) {
      const w = await waitSubscribers(info, job.infoPath, n, job.settleMs || 5000, 1000);
      if (!w.ok && ++settleMisses >= 3 && job.positions) skipSettle = true;
    }
  }
  const tEnd = hr();
  const cpu1 = pids.length ? cpuSeconds(pids) : null;
  const redis1 = await redisSnapshot(job);
  result.loadCpuBusy = loadBusy(lc0, lt0, tEnd);
  S.stop();
  pub.close();
  info.close();
  const k0sent = sentCount;

  const delivered = sum(Array.from(count.subarray(1, M + 1)));
  const timed = sum(Array.from(count.subarray(warm + 1, M + 1)));
  const sent = k0sent;
  result.fanoutMedianMs = median(times);
  result.fanoutP99Ms = quantile(times, 0.99);
  result.fanoutMaxMs = times.length ? Math.max(...times) : null;
  result.fanoutSumMs = sum(times);
  result.deliveriesPerSec = times.length ? (n * times.length) / (sum(times) / 1000) : null;
  result.lost = n * sent - delivered;
  result.duplicates = dup;
  result.timeouts = timeouts;
  result.settleMisses = settleMisses;
  result.settleSkipped = skipSettle;
  result.wallMs = tEnd - tStart;
  result.serverCpuS = cpu0 == null ? null : cpu1 - cpu0;
  result.cpuUsPerDelivery = cpu0 == null || !timed ? null : ((cpu1 - cpu0) / timed) * 1e6;
  result.pubStatuses = pubStatuses;
  result.sub = S.stats;
  if (job.redisPort) result.redis = R.delta(redis0, redis1, Math.max(0, sent - warm), timed);
  return result;
}

// ---- W3: stream -------------------------------------------------------------------------------

async function stream(job) {
  if (job.warmup) {
    // JIT warm-up of the publish and subscribe paths on another channel, not timed: the node
    // servers would otherwise pay for their compilation in the first timed stream.
    const w = (p) => p + '-warm';
    await stream(
      Object.assign({}, job, {
        warmup: 0,
        n: Math.min(job.n, 10),
        messages: job.warmup,
        subPath: w(job.subPath),
        singlePath: w(job.singlePath),
        pubPath: w(job.pubPath),
        infoPath: w(job.infoPath),
        quietMs: 500,
      })
    );
  }
  const n = job.n;
  const M = job.messages;
  const pubInfo = new KeepAlive(job.host, job.port);
  const info = new KeepAlive(job.host, job.port);
  const result = { n, messages: M, mode: job.mode };
  const pos0 = job.positions ? await warmupPosition(job, pubInfo, job.singlePath) : null;

  const got = new Uint8Array(n * (M + 1));
  let total = 0;
  let dup = 0;
  let doneSubs = 0;
  // W6: reached[g] = subscribers that have g messages; slowest = what every one of them has.
  const reached = job.window ? new Int32Array(M + 2) : null;
  let slowest = 0;
  let onSlowest = null;
  let lastDelivery = 0;
  let finishNow = null;
  function mark(u, k) {
    if (!(k >= 1 && k <= M)) return;
    const idx = u.i * (M + 1) + k;
    if (got[idx]) {
      dup++;
      return;
    }
    got[idx] = 1;
    total++;
    u.got++;
    if (reached && ++reached[u.got] === n) {
      while (slowest < M && reached[slowest + 1] === n) slowest++;
      if (onSlowest) onSlowest();
    }
    u.last = lastDelivery = hr();
    if (u.got === M) {
      u.done = u.last;
      if (++doneSubs === n && finishNow) finishNow();
    }
  }
  const S = makeSubscribers(job, job.subPath, {
    onMessage: mark,
    policy: (u) => (u.got < M ? 'now' : 'later'),
  });
  const opened = await openMany(n, (i) => S.make(i, pos0), OPEN_CONCURRENCY, 60000);
  result.opened = opened.opened;
  const held0 = await waitSubscribers(info, job.infoPath, n, 20000, 3000);
  result.heldConfirmed = held0.ok;
  result.heldSeen = held0.seen;

  // Publishers: `inflight` keep-alive connections, each sends its next publish on a response.
  // W6 (`pubBatch`): a publish is `POST /pub` with `pubBatch` messages; `window`: a publish is
  // held back while it would put its last message more than `window` ahead of the slowest
  // subscriber, so that no subscriber falls out of the server's buffer (10,000) over 100,000.
  const B = job.pubBatch || 1;
  const reqs = [];
  for (let k = 1; k <= M; k += B) {
    const last = Math.min(M, k + B - 1);
    if (B === 1) reqs.push({ last, bytes: pubRequest(job.pubPath, messageBody(k, job.size)) });
    else {
      const ch = job.pubPath.slice(job.pubPath.lastIndexOf('/') + 1);
      const messages = [];
      for (let j = k; j <= last; j++) messages.push({ channel: ch, data: messageBody(j, job.size) });
      reqs.push({ last, bytes: jsonRequest('/pub', JSON.stringify({ messages })) });
    }
  }
  const inflight = Math.min(job.inflight, reqs.length);
  const pubs = [];
  const waiting = [];
  let nextReq = 0;
  let acked = 0;
  let pubErrors = 0;
  let windowWaits = 0;
  let tPubDone = 0;
  let t0 = 0;
  const send = (conn) => {
    if (nextReq >= reqs.length) return;
    const r = reqs[nextReq];
    if (job.window && r.last > slowest + job.window) {
      windowWaits++;
      waiting.push(conn);
      return;
    }
    nextReq++;
    conn.inFlight = r.last - (nextReq > 1 ? reqs[nextReq - 2].last : 0);
    conn.write(r.bytes);
  };
  onSlowest = () => {
    while (waiting.length && nextReq < reqs.length && reqs[nextReq].last <= slowest + job.window) send(waiting.shift());
  };
  await new Promise((resolve) => {
    let c = 0;
    for (let i = 0; i < inflight; i++) {
      pubs.push(
        new Conn({
          host: job.host,
          port: job.port,
          onConnect: () => {
            if (++c === inflight) resolve();
          },
          onClose: () => {
            if (++c === inflight) resolve();
          },
          onResponse: (conn, res) => {
            if (res.status >= 300) pubErrors++;
            acked += conn.inFlight;
            conn.inFlight = 0;
            if (acked >= M && !tPubDone) tPubDone = hr();
            send(conn);
          },
        }).connect()
      );
    }
  });
  const pids = serverProcesses(job);
  const redis0 = await redisSnapshot(job);
  const cpu0 = pids.length ? cpuSeconds(pids) : null;
  t0 = hr();
  const lc0 = process.cpuUsage();
  for (const p of pubs) send(p);

  // Until every subscriber has everything, or publishing is over and nothing came for quietMs.
  const quietMs = job.quietMs || 2000;
  await new Promise((resolve) => {
    let timer = null;
    const end = () => {
      clearInterval(timer);
      finishNow = null;
      resolve();
    };
    finishNow = end;
    if (doneSubs === n) return end();
    timer = setInterval(() => {
      const t = hr();
      if (t > job.deadline) {
        result.aborted = 'deadline';
        return end();
      }
      if (tPubDone && t - Math.max(lastDelivery, tPubDone) > quietMs) end();
      // Every publisher held back by a subscriber that gets nothing more: it lost messages.
      if (waiting.length === pubs.length && t - Math.max(lastDelivery, t0) > 5 * quietMs) {
        result.stalled = 'publishers waited for a subscriber that got nothing more';
        end();
      }
    }, 50);
  });
  const tEnd = hr();
  const cpu1 = pids.length ? cpuSeconds(pids) : null;
  const redis1 = await redisSnapshot(job);
  result.loadCpuBusy = loadBusy(lc0, t0, Math.max(lastDelivery, tPubDone || t0));
  S.stop();
  for (const p of pubs) p.destroy();
  pubInfo.close();
  info.close();

  const rates = S.subs.map((u) => (u.got ? u.got / ((u.last - t0) / 1000) : 0));
  const lastAt = Math.max(...S.subs.map((u) => u.last || 0));
  result.published = acked;
  result.pubErrors = pubErrors;
  result.publishPerSec = tPubDone ? M / ((tPubDone - t0) / 1000) : null;
  result.msgsPerSecPerSubMedian = median(rates);
  result.msgsPerSecPerSubMin = rates.length ? Math.min(...rates) : null;
  result.totalDeliveriesPerSec = total && lastAt > t0 ? total / ((lastAt - t0) / 1000) : null;
  result.delivered = total;
  result.lost = n * M - total;
  result.duplicates = dup;
  result.responses = S.stats.responses;
  result.messagesPerResponse = S.stats.responses ? total / S.stats.responses : null;
  result.completeMs = lastAt > t0 ? lastAt - t0 : null;
  result.wallMs = tEnd - t0;
  result.serverCpuS = cpu0 == null ? null : cpu1 - cpu0;
  result.cpuUsPerDelivery = cpu0 == null || !total ? null : ((cpu1 - cpu0) / total) * 1e6;
  result.sub = S.stats;
  result.pubBatch = B;
  result.inflight = inflight;
  if (job.window) {
    result.window = job.window;
    result.windowWaits = windowWaits;
  }
  if (job.redisPort) result.redis = R.delta(redis0, redis1, acked, total);
  return result;
}

// ---- W2: idle memory ---------------------------------------------------------------------------

async function idle(job) {
  const result = { n: job.n };
  const pids = () => processTree(job.serverPid);
  const pub = new KeepAlive(job.host, job.port);
  const info = new KeepAlive(job.host, job.port);
  // Warm-up on another channel: hold some, release them with a publish, close.
  const wu = job.warmup || 500;
  const wjob = Object.assign({}, job, { positions: false });
  const W = makeSubscribers(wjob, job.warmupSubPath, { onMessage: () => {}, policy: () => 'later' });
  await openMany(wu, (i) => W.make(i, null), OPEN_CONCURRENCY, 30000);
  await waitSubscribers(info, job.warmupInfoPath, wu, 10000);
  await pub.request(pubRequest(job.warmupPubPath, messageBody(0, job.size)));
  for (let i = 0; i < 2000 && W.subs.some((u) => !u.idle); i++) await sleep(5);
  W.stop();
  await sleep(1000);
  const m0 = memory(pids());
  const S = makeSubscribers(job, job.subPath, { onMessage: () => {}, policy: () => 'later' });
  const ov0 = listenOverflows();
  const opened = await openMany(job.n, (i) => S.make(i, null), job.openConcurrency || OPEN_CONCURRENCY, 120000, WAVE, waveWaiter(info, job.infoPath));
  result.paced = opened.paced;
  result.listenOverflows = ov0 == null ? null : listenOverflows() - ov0;
  result.opened = opened.opened;
  result.openFailed = opened.failed;
  result.openMs = opened.ms;
  const w = await waitSubscribers(info, job.infoPath, job.n, 60000, 3000);
  result.heldConfirmed = w.ok;
  result.heldSeen = w.seen;
  // Let the server settle, then take the highest of a few readings a moment apart.
  await sleep(1000);
  let m1 = memory(pids());
  for (let i = 0; i < 3; i++) {
    await sleep(300);
    const m = memory(pids());
    if (m.rss > m1.rss) m1 = m;
  }
  result.rssBefore = m0.rss;
  result.rssAfter = m1.rss;
  result.pssBefore = m0.pss;
  result.pssAfter = m1.pss;
  const held = w.ok ? job.n : opened.opened;
  result.bytesPerHeld = held ? (m1.rss - m0.rss) / held : null;
  result.pssBytesPerHeld = held && m0.pss ? (m1.pss - m0.pss) / held : null;
  result.brkBytesPerHeld = held && m0.brk ? (m1.brk - m0.brk) / held : null;
  S.stop();
  pub.close();
  info.close();
  return result;
}

// ---- W5: hold (one of several load processes) -------------------------------------------------

async function hold(job) {
  const n = job.n;
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let dup = 0;
  let marked = -1; // subscribers held when the orchestrator said 'mark' (just before its publish)
  let receivedMarked = 0;
  const seen = new Uint8Array(n);
  let resolveAll = null;
  const S = makeSubscribers(job, job.subPath, {
    onMessage: (u) => {
      if (seen[u.i]) {
        dup++;
        return;
      }
      seen[u.i] = 1;
      received++;
      lastAt = hr();
      if (!firstAt) firstAt = lastAt;
      if (u.marked) receivedMarked++;
      if (marked >= 0 && receivedMarked >= marked && resolveAll) resolveAll();
    },
    policy: () => 'later',
  });
  const info = new KeepAlive(job.host, job.port);
  const ov0 = listenOverflows();
  const opened = await openMany(
    n,
    (i) => S.make(i, null),
    job.openConcurrency || OPEN_CONCURRENCY,
    job.openTimeoutMs || 120000,
    WAVE,
    waveWaiter(info, job.infoPath, job.countBase || 0)
  );
  info.close();
  // Connections the server closed while they opened are retried (up to 5 times each): let
  // those retries land before counting.
  const live = () => S.subs.filter((u) => u.conn.connected && !u.conn.closed).length;
  const pending = () => S.subs.some((u) => !u.conn.closed && !u.conn.connected);
  for (let i = 0; i < 500 && pending(); i++) await sleep(10);
  process.send({
    type: 'opened',
    opened: live(),
    failedFirstTry: opened.failed,
    reconnects: S.stats.reconnects,
    ms: opened.ms,
    paced: opened.paced,
    listenOverflows: ov0 == null ? null : listenOverflows() - ov0,
    at: hr(),
  });
  // Wait for the message (or the orchestrator's finish, or the deadline).
  await new Promise((resolve) => {
    resolveAll = resolve;
    process.on('message', (m) => {
      if (m && m.type === 'mark') {
        marked = 0;
        for (const u of S.subs) {
          u.marked = u.conn.connected && !u.conn.closed;
          if (u.marked) marked++;
        }
        process.send({ type: 'marked', held: marked });
        if (receivedMarked >= marked && received > 0) resolve();
      } else if (m && m.type === 'finish') resolve();
    });
    setTimeout(resolve, Math.max(0, job.deadline - hr()));
  });
  const closed = S.subs.filter((u) => u.conn.closed && !u.idle).length;
  S.stop();
  return {
    n,
    opened: opened.opened,
    failedFirstTry: opened.failed,
    openMs: opened.ms,
    marked,
    received,
    receivedMarked,
    lost: marked >= 0 ? marked - receivedMarked : null,
    firstAt,
    lastAt,
    dup,
    closedUnanswered: closed,
    sub: S.stats,
  };
}

// ---- process plumbing -----------------------------------------------------------------------

// WT and WC live in modules of their own; required when run, once this module's exports exist.
const kinds = {
  fanout,
  stream,
  idle,
  hold,
  tailhold: (job) => require('./bench-tail-load.js').tailhold(job),
  churn: (job) => require('./bench-churn-load.js').churn(job),
};

function main() {
  if (!process.send) {
    process.stderr.write('bench-load.js is started by scripts/bench.js (it needs an IPC channel)\n');
    process.exit(2);
  }
  process.on('disconnect', () => process.exit(0));
  process.once('message', async (m) => {
    if (!m || m.type !== 'job') return;
    const job = m.job;
    let watchdog = null;
    try {
      assertLoopback(job.host, job.localAddress);
      L.setAuth(job.auth);
      job.deadline = hr() + job.timeoutMs;
      watchdog = setTimeout(() => {
        process.send({ type: 'result', result: { error: 'watchdog: job exceeded ' + job.timeoutMs + ' ms' } }, () => process.exit(3));
      }, job.timeoutMs + 15000);
      const result = await kinds[job.kind](job);
      clearTimeout(watchdog);
      process.send({ type: 'result', result }, () => process.exit(0));
    } catch (e) {
      clearTimeout(watchdog);
      process.send({ type: 'result', result: { error: String((e && e.stack) || e) } }, () => process.exit(1));
    }
  });
}

if (require.main === module) main();
module.exports = { fanout, stream, idle, hold, cpuOf, makeSubscribers, waveWaiter, warmupPosition, loadBusy, OPEN_CONCURRENCY, WAVE };

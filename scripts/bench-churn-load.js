'use strict';
// WC's load side (`npm run bench -- --only WC`; scripts/bench-churn.js starts it, BENCH.md has
// the method): K clients on one channel, each on a connection of its own that carries one
// long-poll with `Connection: close`. In rounds: once the server counts all K held, one message
// is published; each client, the moment it has it, opens a new connection and polls again with
// its position (the server closes the old one). Every server does the same work per
// connection: accept, parse, hold, write one message, close. Every client held at a publish
// must get that message: what one did not is lost.
const { hr, Conn, KeepAlive, waitSubscribers, pubRequest, messageBody, eachSeq, processTree, cpuSeconds, sleep } = require('./bench-lib.js');
const { loadBusy, warmupPosition } = require('./bench-load.js');

/** A long-poll that asks the server to close the connection after its answer. */
function closeRequest(path, pos) {
  let s = 'GET ' + path + ' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n';
  if (pos && pos.etag != null) s += 'If-None-Match: ' + pos.etag + '\r\n';
  if (pos && pos.lastModified) s += 'If-Modified-Since: ' + pos.lastModified + '\r\n';
  return Buffer.from(s + '\r\n', 'latin1');
}

async function churn(job) {
  const K = job.clients;
  const R = job.warmupRounds + job.rounds; // messages 1..R, one per round
  const got = new Uint8Array(K * (R + 1));
  const count = new Int32Array(R + 2);
  const stats = { statuses: {}, closedUnanswered: 0, connections: 0, duplicates: 0, retriesLeft: K * 5 };
  const live = new Set(); // every connection not yet closed: destroyed at the end
  let current = 0;
  let onRound = null;
  let running = true;
  // The clients all stand at the same position after each round: one request per round.
  let reqKey = null;
  let reqBytes = null;
  const request = (pos) => {
    const key = pos ? pos.etag + '|' + pos.lastModified : '';
    if (key !== reqKey) {
      reqKey = key;
      reqBytes = closeRequest(job.subPath, pos);
    }
    return reqBytes;
  };

  function open(u) {
    stats.connections++;
    const c = new Conn({
      host: job.host,
      port: job.port,
      onConnect: (cc) => cc.write(request(u.pos)),
      onResponse: (_cc, res) => {
        c.answered = true;
        if (res.status === 200) {
          eachSeq(res.body, (k) => mark(u, k));
          if (job.positions && res.etag != null) u.pos = { etag: res.etag, lastModified: res.lastModified };
        } else {
          stats.statuses[res.status] = (stats.statuses[res.status] || 0) + 1;
          if (job.positions && res.etag != null) u.pos = { etag: res.etag, lastModified: res.lastModified || (u.pos && u.pos.lastModified) };
          // Polling again after anything but a message is bounded over all clients.
          if (stats.retriesLeft-- <= 0) return;
        }
        // A new connection at once, as a client on a new network would; the server closes
        // the old one. After the last round nobody polls again.
        if (running && u.last < R) u.conn = open(u);
      },
      onClose: (cc) => {
        live.delete(cc);
        if (cc.answered || !running || cc !== u.conn) return;
        // Closed before its answer: poll again on a new connection (bounded over all clients).
        stats.closedUnanswered++;
        if (stats.retriesLeft-- > 0) u.conn = open(u);
      },
    });
    live.add(c);
    return c.connect();
  }

  function mark(u, k) {
    if (!(k >= 1 && k <= R)) return;
    const idx = u.i * (R + 1) + k;
    if (got[idx]) {
      stats.duplicates++;
      return;
    }
    got[idx] = 1;
    if (k > u.last) u.last = k;
    if (++count[k] === K && k === current && onRound) onRound();
  }

  const pub = new KeepAlive(job.host, job.port);
  const info = new KeepAlive(job.host, job.port);
  const pos0 = job.positions ? await warmupPosition(job, pub, job.subPath) : null;
  const clients = [];
  for (let i = 0; i < K; i++) {
    const u = { i, pos: pos0, conn: null, last: 0 };
    clients.push(u);
    u.conn = open(u);
  }
  const pids = job.serverPid ? processTree(job.serverPid) : [];
  const result = { clients: K, rounds: job.rounds, warmupRounds: job.warmupRounds };
  const pubStatuses = {};
  let timeouts = 0;
  let settleMisses = 0;
  let skipSettle = false;
  let sent = 0;
  let t0 = 0;
  let cpu0 = null;
  let conns0 = 0;
  let lc0 = null;
  let tEnd = 0;
  let settleMs = 0; // timed rounds: waiting for the server to count all K held
  let fanoutMs = 0; // timed rounds: from the publish to every client having the message
  const startTimed = () => {
    t0 = hr();
    cpu0 = pids.length ? cpuSeconds(pids) : null;
    conns0 = stats.connections - K;
    lc0 = process.cpuUsage();
  };
  for (let r = 1; r <= R; r++) {
    if (hr() > job.deadline) {
      result.aborted = 'deadline';
      break;
    }
    if (r === 1 && !job.warmupRounds) startTimed();
    // Every client held before the publish: the bare server has no positions, and a client
    // not yet held would miss the message there.
    const ts = hr();
    if (!skipSettle) {
      const w = await waitSubscribers(info, job.infoPath, K, r === 1 ? 20000 : 5000, 1000);
      if (!w.ok && ++settleMisses >= 3 && job.positions) skipSettle = true;
    }
    const tp = hr();
    if (r > job.warmupRounds) settleMs += tp - ts;
    current = r;
    const done = new Promise((resolve) => {
      const timer = setTimeout(() => {
        onRound = null;
        resolve(false);
      }, job.roundTimeoutMs || 10000);
      onRound = () => {
        clearTimeout(timer);
        onRound = null;
        resolve(true);
      };
      if (count[r] === K) onRound();
    });
    const pr = pub.request(pubRequest(job.pubPath, messageBody(r, job.size)));
    sent++;
    if (!(await done)) timeouts++;
    if (r > job.warmupRounds) fanoutMs += hr() - tp;
    // The timed part starts as the clients that have the last warm-up message reconnect.
    if (r === job.warmupRounds) startTimed();
    const res = await pr;
    const st = res ? res.status : 0;
    pubStatuses[st] = (pubStatuses[st] || 0) + 1;
    tEnd = hr();
  }
  const cpu1 = pids.length ? cpuSeconds(pids) : null;
  result.loadCpuBusy = lc0 ? loadBusy(lc0, t0, tEnd) : null;
  running = false;
  // The last round's connections are closed by the server; give them a moment, then close.
  for (let i = 0; i < 200 && live.size; i++) await sleep(5);
  for (const c of live) c.destroy();
  pub.close();
  info.close();

  const timedRounds = Math.max(0, sent - job.warmupRounds);
  const timedConns = stats.connections - conns0;
  let delivered = 0;
  for (let r = 1; r <= sent; r++) delivered += count[r];
  result.sent = sent;
  result.timedRounds = timedRounds;
  result.timedConnections = timedConns;
  result.ms = t0 && tEnd > t0 ? tEnd - t0 : null;
  result.connectionsPerSec = result.ms ? (K * timedRounds) / (result.ms / 1000) : null;
  result.lost = K * sent - delivered;
  result.duplicates = stats.duplicates;
  result.settleMs = settleMs;
  result.fanoutMs = fanoutMs;
  result.timeouts = timeouts;
  result.settleMisses = settleMisses;
  result.settleSkipped = skipSettle;
  result.serverCpuS = cpu0 == null ? null : cpu1 - cpu0;
  result.cpuUsPerConnection = cpu0 == null || !timedRounds ? null : ((cpu1 - cpu0) / (K * timedRounds)) * 1e6;
  result.closedUnanswered = stats.closedUnanswered;
  result.statuses = stats.statuses;
  result.pubStatuses = pubStatuses;
  return result;
}

module.exports = { churn };

'use strict';
// WT, tail latency (`npm run bench -- --only WT`; BENCH.md has the method): W1's fan-out with
// N held long-polls on one channel spread over several load processes (each from its own
// 127.0.0.x, at most `perProcess` sockets each: a process may open 20,000 files here), 50
// messages published one at a time after 5 untimed ones, and for each the time from the
// publish request written to the last subscriber of all the processes having it.
// The load side is scripts/bench-tail-load.js.
const L = require('./bench-lib.js');
const { warmupPosition } = require('./bench-load.js');

const SIZES = {
  full: { ns: [1000, 10000], perProcess: 9500, messages: 50, warmup: 5 },
  quick: { ns: [1000, 10000], perProcess: 9500, messages: 50, warmup: 5 },
  // Two load processes even here, so the cross-process path is what the smoke run checks.
  smoke: { ns: [30], perProcess: 20, messages: 10, warmup: 2 },
};

/**
 * The q-quantile, interpolated between the two nearest ranks (numpy's default): over 50
 * publishes the nearest-rank p99 would be the maximum, which is reported on its own.
 */
function quantile(xs, q) {
  if (!xs.length) return null;
  const a = xs.slice().sort((x, y) => x - y);
  const h = (a.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(a.length - 1, lo + 1);
  return a[lo] + (a[hi] - a[lo]) * (h - lo);
}

/** Waits for every load process's report of message k (or null for one that timed out). */
function gotAll(loads, k, timeoutMs) {
  return Promise.all(
    loads.map(
      (l) =>
        new Promise((resolve) => {
          if (l.got.has(k)) return resolve(l.got.get(k));
          const t = setTimeout(() => {
            l.waiters.delete(k);
            resolve(null);
          }, timeoutMs);
          l.waiters.set(k, (m) => {
            clearTimeout(t);
            resolve(m);
          });
        })
    )
  );
}

/** A message to a load process that may be on its way out (its answer already sent). */
function tell(l, m) {
  if (l.child && l.child.connected && !l.ended) l.child.send(m, () => {});
}

async function tailRun(ctx, target, s, n, Z) {
  const ch = ctx.channel('wt');
  const subPath = '/sub/' + ch;
  const pubPath = '/pub/' + ch;
  const M = Z.warmup + Z.messages;
  const pub = new L.KeepAlive(ctx.host, s.port);
  const info = new L.KeepAlive(ctx.host, s.port);
  const loads = [];
  try {
    const pos0 = target.positions ? await warmupPosition({ host: ctx.host, port: s.port, size: ctx.size, pubPath }, pub, subPath) : null;
    // Even shares, each process opening its own after the one before has all of its held.
    const k = Math.ceil(n / Z.perProcess);
    let base = 0;
    for (let i = 0; i < k; i++) {
      const share = Math.floor(n / k) + (i < n % k ? 1 : 0);
      const l = { child: null, got: new Map(), waiters: new Map(), opened: null, done: null, ended: false };
      let openedNow;
      const openedP = new Promise((r) => (openedNow = r));
      l.done = ctx
        .runLoad(
          {
            kind: 'tailhold',
            port: s.port,
            n: share,
            messages: M,
            localAddress: `127.0.0.${2 + i}`,
            positions: target.positions,
            pos0,
            mode: 'single',
            subPath,
            infoPath: pubPath,
            countBase: base,
            openTimeoutMs: 240000,
            timeoutMs: 300000,
          },
          (m, child) => {
            l.child = child;
            if (m.type === 'opened') openedNow(m);
            else if (m.type === 'got') {
              l.got.set(m.k, m);
              const w = l.waiters.get(m.k);
              if (w) {
                l.waiters.delete(m.k);
                w(m);
              }
            }
          }
        )
        .then((r) => {
          l.ended = true;
          openedNow({ opened: 0, error: r.error });
          return r;
        });
      loads.push(l);
      l.opened = await openedP;
      if (l.opened.error) throw new Error('load process ' + (i + 1) + ': ' + l.opened.error);
      base += l.opened.opened;
    }
    const total = base;
    const held0 = await L.waitSubscribers(info, pubPath, total, 30000, 3000);
    const send = (m) => {
      for (const l of loads) tell(l, m);
    };

    const pids = L.processTree(s.pid);
    let cpu0 = null;
    let skipSettle = target.positions && !held0.ok;
    let settleMisses = 0;
    let timeouts = 0;
    let sent = 0;
    const toLast = [];
    const toFirst = [];
    const spread = [];
    const pubStatuses = {};
    for (let m = 1; m <= M; m++) {
      if (m > 1) send({ type: 'repoll', timed: m === Z.warmup + 1 });
      // Every re-poll held before the next publish, as in W1 (the bare server has no positions).
      if (m > 1 && !skipSettle) {
        const w = await L.waitSubscribers(info, pubPath, total, 5000, 1000);
        if (!w.ok && ++settleMisses >= 3 && target.positions) skipSettle = true;
      }
      if (m === Z.warmup + 1) cpu0 = L.cpuSeconds(pids);
      const reports = gotAll(loads, m, 10000 + n);
      const t0 = L.hr(); // the publish request is written within the call below
      const pr = pub.request(L.pubRequest(pubPath, L.messageBody(m, ctx.size)));
      sent++;
      const got = await reports;
      const r = await pr;
      const st = r ? r.status : 0;
      pubStatuses[st] = (pubStatuses[st] || 0) + 1;
      if (got.some((g) => !g)) {
        timeouts++;
        continue;
      }
      if (m <= Z.warmup) continue;
      const last = Math.max(...got.map((g) => g.lastAt));
      const first = Math.min(...got.map((g) => g.firstAt));
      toLast.push(last - t0);
      toFirst.push(first - t0);
      spread.push(last - first);
    }
    const cpu1 = L.cpuSeconds(pids);
    send({ type: 'finish', sent });
    const results = await Promise.all(loads.map((l) => l.done));
    const errors = results.filter((r) => r.error).map((r) => r.error);
    const delivered = L.sum(results.map((r) => r.delivered || 0));
    const timed = toLast.length * total;
    return {
      n,
      loadProcesses: k,
      opened: total,
      heldConfirmed: held0.ok,
      heldSeen: held0.seen,
      openMs: Math.max(...loads.map((l) => l.opened.ms || 0)),
      published: sent,
      timedPublishes: toLast.length,
      publishToLastMs: toLast,
      toLastP50Ms: quantile(toLast, 0.5),
      toLastP99Ms: quantile(toLast, 0.99),
      toLastMaxMs: toLast.length ? Math.max(...toLast) : null,
      toFirstMedianMs: quantile(toFirst, 0.5),
      spreadMedianMs: quantile(spread, 0.5),
      spreadMaxMs: spread.length ? Math.max(...spread) : null,
      // Short of what they should have had; a process that failed loses its whole share, and
      // a subscriber that never held loses every message.
      lost: L.sum(results.map((r, i) => (r.lost == null ? loads[i].opened.opened * sent : r.lost))) + (n - total) * sent,
      delivered,
      duplicates: L.sum(results.map((r) => r.duplicates || 0)),
      timeouts,
      settleMisses,
      settleSkipped: skipSettle,
      failedFirstTry: L.sum(loads.map((l) => l.opened.failedFirstTry || 0)),
      listenOverflows: L.sum(loads.map((l) => l.opened.listenOverflows || 0)),
      loadCpuBusy: L.sum(results.map((r) => r.loadCpuBusy || 0)),
      cpuUsPerDelivery: cpu0 == null || !timed ? null : ((cpu1 - cpu0) / timed) * 1e6,
      pubStatuses,
      statuses: results.reduce((a, r) => {
        for (const [c, v] of Object.entries((r.sub && r.sub.statuses) || {})) a[c] = (a[c] || 0) + v;
        return a;
      }, {}),
      errors,
    };
  } finally {
    for (const l of loads) tell(l, { type: 'finish', sent: -1 });
    await Promise.race([Promise.all(loads.map((l) => l.done)), L.sleep(20000)]);
    pub.close();
    info.close();
  }
}

/**
 * WT for every server, started once for all its sizes. First an untimed W1-style warm-up on
 * a channel of its own (JIT, and the first connection closes: BENCH.md says why).
 */
async function run(names, ctx) {
  const Z = SIZES[ctx.profile];
  const rows = Z.ns.map((n) => ({ label: `N=${n}` }));
  await ctx.withServers(names, async (servers, failed) => {
    for (const name of names) {
      const s = servers[name];
      if (!s) {
        for (const row of rows) row[name] = { na: failed[name] };
        continue;
      }
      const target = ctx.targets[name];
      const wu = ctx.channel('wtwarm');
      await ctx.runLoad({
        kind: 'fanout',
        port: s.port,
        n: Math.min(500, Z.ns[0]),
        messages: 5,
        style: 'deferred',
        mode: 'single',
        positions: target.positions,
        subPath: '/sub/' + wu,
        pubPath: '/pub/' + wu,
        infoPath: '/pub/' + wu,
        timeoutMs: 60000,
      });
      for (let i = 0; i < Z.ns.length; i++) {
        const row = rows[i];
        try {
          row[name] = await tailRun(ctx, target, s, Z.ns[i], Z);
        } catch (e) {
          row[name] = { error: String((e && e.message) || e) };
        }
        const r = row[name];
        ctx.log(`  WT ${row.label} ${name}: ${r.error ? 'n/a: ' + r.error : `publish-to-last p50 ${ctx.fmt(r.toLastP50Ms)} ms, p99 ${ctx.fmt(r.toLastP99Ms)} ms, lost ${r.lost}`}`);
      }
    }
  });
  return rows;
}

const METRICS = [
  ['publish-to-last p50 (ms)', (r) => r.toLastP50Ms, 'low'],
  ['publish-to-last p99 (ms)', (r) => r.toLastP99Ms, 'low'],
  ['publish-to-last max (ms)', (r) => r.toLastMaxMs, 'low'],
  ['first-to-last spread, median (ms)', (r) => r.spreadMedianMs, 'low'],
  ['lost', (r) => r.lost, 'zero'],
  ['server CPU us/delivery', (r) => r.cpuUsPerDelivery, 'low'],
];

/** The issue's target: at N=10,000, p99 publish-to-last at most 1.5x Nchan's in the same run. */
function checks(rows) {
  const out = [];
  for (const row of rows || []) {
    const hp = row.holdpush;
    const nc = row.nchan;
    if (row.label !== 'N=10000' || !hp || hp.na || hp.error || !nc || nc.na || nc.error) continue;
    const q = hp.toLastP99Ms != null && nc.toLastP99Ms ? hp.toLastP99Ms / nc.toLastP99Ms : null;
    out.push({ target: `WT ${row.label}: p99 publish-to-last vs Nchan`, value: q, need: '<= 1.5x', ok: q != null && q <= 1.5 });
  }
  return out;
}

// Minutes added to the orchestrator's global watchdog when this workload runs.
const watchdogMin = { full: 15, quick: 15, smoke: 2 };

module.exports = { run, METRICS, checks, watchdogMin, title: 'WT tail latency' };

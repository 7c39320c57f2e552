'use strict';
// WT's load side (`npm run bench -- --only WT`): one of several load processes that hold long-polls
// on one channel between them (scripts/bench-tail.js runs the publishes). Each process opens its
// share from its own 127.0.0.x, reports {type: 'opened'}, and then for every message k it
// reports {type: 'got', k, firstAt, lastAt} the moment all its subscribers have k. The
// orchestrator takes the latest lastAt over the processes: that is the last subscriber of the
// whole channel. On {type: 'repoll'} every subscriber that has its message polls again with its
// position; {type: 'finish', sent} ends the job with the counts.
//
// Timestamps are bench-lib's hr(): process.hrtime.bigint(), which on Linux reads
// CLOCK_MONOTONIC, one clock for every process on the machine, so a time taken here and the
// orchestrator's publish time can be subtracted.
const { hr, KeepAlive, openMany, listenOverflows, sleep } = require('./bench-lib.js');
const { makeSubscribers, waveWaiter, loadBusy, OPEN_CONCURRENCY, WAVE } = require('./bench-load.js');

async function tailhold(job) {
  const n = job.n;
  const M = job.messages; // warm-up and timed, numbered 1..M
  const got = new Uint8Array(n * (M + 1));
  const count = new Int32Array(M + 2);
  const firstAt = new Float64Array(M + 2);
  const lastAt = new Float64Array(M + 2);
  let expected = -1; // subscribers connected once all were opened: each must get every message
  let dup = 0;
  let delivered = 0;
  const S = makeSubscribers(job, job.subPath, {
    onMessage: (u, k) => {
      if (!(k >= 1 && k <= M)) return;
      const idx = u.i * (M + 1) + k;
      if (got[idx]) {
        dup++;
        return;
      }
      got[idx] = 1;
      delivered++;
      const t = hr();
      if (!firstAt[k]) firstAt[k] = t;
      lastAt[k] = t;
      if (++count[k] === expected) process.send({ type: 'got', k, firstAt: firstAt[k], lastAt: t });
    },
    policy: () => 'later',
  });
  const info = new KeepAlive(job.host, job.port);
  const ov0 = listenOverflows();
  const opened = await openMany(
    n,
    (i) => S.make(i, job.pos0),
    OPEN_CONCURRENCY,
    job.openTimeoutMs || 120000,
    WAVE,
    waveWaiter(info, job.infoPath, job.countBase || 0)
  );
  info.close();
  const pending = () => S.subs.some((u) => !u.conn.closed && !u.conn.connected);
  for (let i = 0; i < 500 && pending(); i++) await sleep(10);
  expected = S.subs.filter((u) => u.conn.connected && !u.conn.closed).length;
  process.send({
    type: 'opened',
    opened: expected,
    failedFirstTry: opened.failed,
    ms: opened.ms,
    paced: opened.paced,
    listenOverflows: ov0 == null ? null : listenOverflows() - ov0,
  });

  let lc0 = null;
  let lt0 = 0;
  const sent = await new Promise((resolve) => {
    const t = setTimeout(() => resolve(-1), Math.max(0, job.deadline - hr()));
    process.on('message', (m) => {
      if (!m) return;
      if (m.type === 'repoll') {
        if (m.timed && !lc0) {
          lc0 = process.cpuUsage();
          lt0 = hr();
        }
        for (const u of S.subs) if (u.idle) S.poll(u);
      } else if (m.type === 'finish') {
        clearTimeout(t);
        resolve(m.sent);
      }
    });
  });
  const tEnd = hr();
  S.stop();
  return {
    n,
    opened: expected,
    failedFirstTry: opened.failed,
    sent,
    delivered,
    // Each subscriber connected at the start must have every message published (sent of M).
    lost: sent >= 0 ? expected * sent - delivered : null,
    duplicates: dup,
    loadCpuBusy: lc0 ? loadBusy(lc0, lt0, tEnd) : null,
    sub: S.stats,
  };
}

module.exports = { tailhold };

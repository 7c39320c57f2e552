'use strict';
// WC, churn (`npm run bench -- --only WC`; BENCH.md has the method and why it is built so): new
// connections per second that each carry one long-poll with `Connection: close`, get one
// message and close, the cost that clients on mobile networks create. K clients in rounds of
// one publish each; the load side is scripts/bench-churn-load.js.

// K is a wave (400): all K reconnect at once, and a burst beyond the accept queue (511) would
// measure SYN retransmission timers instead of the server.
const SIZES = {
  full: { clients: 400, warmupRounds: 10, rounds: 75 },
  quick: { clients: 400, warmupRounds: 10, rounds: 75 },
  smoke: { clients: 8, warmupRounds: 2, rounds: 5 },
};

async function run(names, ctx) {
  const Z = SIZES[ctx.profile];
  const row = { label: `K=${Z.clients}, ${Z.rounds} rounds` };
  await ctx.withServers(names, async (servers, failed) => {
    for (const name of names) {
      const s = servers[name];
      if (!s) {
        row[name] = { na: failed[name] };
        continue;
      }
      // Twice on the same server, the second kept, as W1 (BENCH.md: the warm-up is the workload).
      row[name] = await ctx.warmedRun('wc', (ch) => ({
        kind: 'churn',
        port: s.port,
        serverPid: s.pid,
        clients: Z.clients,
        rounds: Z.rounds,
        warmupRounds: Z.warmupRounds,
        positions: ctx.targets[name].positions,
        subPath: '/sub/' + ch,
        pubPath: '/pub/' + ch,
        infoPath: '/pub/' + ch,
        timeoutMs: 180000,
      }));
      const r = row[name];
      ctx.log(`  WC ${row.label} ${name}: ${r.error ? 'n/a: ' + r.error : `${ctx.fmt(r.connectionsPerSec)} connections/s, lost ${r.lost}`}`);
    }
  });
  return [row];
}

const METRICS = [
  ['connections/s', (r) => r.connectionsPerSec, 'high'],
  ['server CPU us/connection', (r) => r.cpuUsPerConnection, 'low'],
  ['lost', (r) => r.lost, 'zero'],
];

/** The issue's target: connections/s at least 0.9x the bare node:http server's in the same run. */
function checks(rows) {
  const out = [];
  for (const row of rows || []) {
    const hp = row.holdpush;
    const b = row.baseline;
    if (!hp || hp.na || hp.error || !b || b.na || b.error) continue;
    const q = hp.connectionsPerSec != null && b.connectionsPerSec ? hp.connectionsPerSec / b.connectionsPerSec : null;
    out.push({ target: `WC ${row.label}: connections/s vs node:http baseline`, value: q, need: '>= 0.9x', ok: q != null && q >= 0.9 });
  }
  return out;
}

// Minutes added to the orchestrator's global watchdog when this workload runs.
const watchdogMin = { full: 6, quick: 6, smoke: 1 };

module.exports = { run, METRICS, checks, watchdogMin, title: 'WC churn' };

'use strict';
// The deployment targets of `npm run bench` (`--deploy`): holdpush as users who outgrow one
// process run it, beside the memory store in the same run.
//
// - holdpush-workers: `--workers 2`. Two workers need both cores, so the server runs over cores
//   0-1 and so does its load process: they share the machine as the kernel schedules them.
// - holdpush-1proc: one process set up the same way (server and load over cores 0-1), the
//   honest "one process" to hold `--workers 2` against: holdpush's own column has a core to
//   itself and the load the other, a machine split the two workers cannot have.
// - holdpush-redis: two servers on one redis-server the bench starts on a free port, all three
//   pinned to core 0 as the memory store's server is; the load stays on core 1. Subscribers are
//   split evenly over the two servers; every publish goes to the first one.
const R = require('./bench-redis.js');

const WORKLOADS = ['W1', 'W3', 'W6'];
const NAMES = ['holdpush-workers', 'holdpush-1proc', 'holdpush-redis'];

/**
 * ctx: {positions, args(workers) (holdpush's flags), startHoldpush(name, args, core),
 * spawnPinned(core, cmd, args, options), freePort()}.
 */
function targets(ctx) {
  const batch = { mode: 'batch', prefix: '/sub/' };
  const spread = (name, short, workers) => ({
    positions: ctx.positions,
    batch,
    workloads: WORKLOADS,
    short,
    loadCores: '0,1',
    start: () => ctx.startHoldpush(name, ctx.args(workers), '0,1'),
  });
  return {
    'holdpush-workers': spread('holdpush-workers', 'wrk2', 2),
    'holdpush-1proc': spread('holdpush-1proc', '1proc', 1),
    'holdpush-redis': {
      positions: ctx.positions,
      batch,
      workloads: WORKLOADS,
      short: 'redis',
      // A re-poll is a Redis read today (issue 19 saw W3 with 100 subscribers at about a third
      // of the memory store's rate): its jobs get five times the time rather than being cut.
      timeScale: 5,
      start: async () => {
        const redis = await R.start((cmd, args, options) => ctx.spawnPinned(0, cmd, args, options), ctx.freePort);
        const servers = [];
        const stop = async () => {
          for (const s of servers) await s.stop();
          await redis.stop();
        };
        try {
          for (let i = 0; i < 2; i++) servers.push(await ctx.startHoldpush('holdpush-redis', [...ctx.args(1), '--redis', redis.url], 0));
        } catch (e) {
          await stop();
          throw e;
        }
        const [a, b] = servers;
        return { name: 'holdpush-redis', port: a.port, pid: a.pid, ports: [a.port, b.port], pids: [a.pid, b.pid], redis: { port: redis.port, pid: redis.pid }, stop };
      },
    },
  };
}

/** How the deployment targets among names are pinned, for the run's header (empty: none). */
function cores(names) {
  const bits = [];
  if (names.includes('holdpush-workers') || names.includes('holdpush-1proc')) bits.push('holdpush-workers and holdpush-1proc: server and load over cores 0-1');
  if (names.includes('holdpush-redis')) bits.push('holdpush-redis: both servers and redis-server on core 0');
  return bits.length ? '; ' + bits.join('; ') : '';
}

/** What a load job needs to know of a server handle beyond its port and pid. */
function jobExtras(target, s) {
  const x = {};
  if (s.ports) x.ports = s.ports;
  if (s.pids) x.serverPids = s.pids;
  if (s.redis) {
    x.redisPort = s.redis.port;
    x.redisPid = s.redis.pid;
  }
  if (target.loadCores) x.loadCores = target.loadCores;
  if (target.timeScale) x.timeScale = target.timeScale;
  return x;
}

const red = (f) => (r) => (r.redis ? f(r.redis) : null);
const REDIS_METRICS = [
  ['redis commands/published msg', red((x) => x.commandsPerPublished), 'low'],
  ['redis commands/delivery', red((x) => x.commandsPerDelivery), 'low'],
  ['redis bytes in/published msg', red((x) => x.bytesInPerPublished), 'low'],
  ['redis bytes out/published msg', red((x) => x.bytesOutPerPublished), 'low'],
  ['redis CPU us/delivery', red((x) => x.cpuUsPerDelivery), 'low'],
];

/** Rows added to a workload's table when the Redis target ran. */
function metrics(w, names) {
  return names.includes('holdpush-redis') && WORKLOADS.includes(w) ? REDIS_METRICS : [];
}

/** Each Redis row's commands per published message by command (the table has the totals). */
function redisLines(results, fmt) {
  const out = [];
  for (const w of WORKLOADS) {
    for (const row of results.workloads[w] || []) {
      const x = row['holdpush-redis'] && row['holdpush-redis'].redis;
      if (!x) continue;
      const top = Object.entries(x.byCommandPerPublished)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ');
      out.push(`  ${w} ${row.label}: ${top}`);
    }
  }
  return out.length ? ['redis commands per published message, by command (holdpush-redis):', ...out] : [];
}

/** Deployment targets among names that cannot run here, with why (noServer: why holdpush cannot). */
function unavailable(names, noServer) {
  const out = {};
  for (const n of NAMES.filter((x) => names.includes(x))) {
    if (noServer) out[n] = noServer;
    else if (n === 'holdpush-redis' && !R.available().ok) out[n] = R.available().reason;
  }
  return out;
}

const ok = (r) => r && !r.na && !r.error;

/** Issue 19's deployment targets that one run can judge. */
function checks(results, ratio) {
  const out = [];
  const add = (target, value, need, met, note) => out.push({ target, value, need, ok: met, note });
  const W = results.workloads;
  for (const n of NAMES) {
    let lost = 0;
    let seen = 0;
    for (const rows of Object.values(W)) {
      for (const row of rows) {
        if (ok(row[n]) && row[n].lost != null && !row[n].sameAs) {
          lost += row[n].lost;
          seen++;
        }
      }
    }
    if (seen) add(`nothing lost (${n}, every workload)`, lost, 0, lost === 0);
  }
  const vsMemory = (w, row, fig) => {
    const r = row['holdpush-redis'];
    const m = row.holdpush;
    if (!ok(r) || !ok(m)) return;
    const q = ratio(fig(r), fig(m));
    add(`${w} ${row.label}: Redis (two servers) deliveries/s vs memory store`, q, '>= 0.7x', q != null && q >= 0.7);
  };
  for (const row of W.W1 || []) vsMemory('W1', row, (r) => r.deliveriesPerSec);
  for (const row of (W.W3 || []).filter((r) => !/^1 sub /.test(r.label))) vsMemory('W3', row, (r) => r.totalDeliveriesPerSec);
  // O(1) in subscribers: commands per published message with the most subscribers against one.
  for (const w of ['W3', 'W6']) {
    const rows = (W[w] || []).filter((row) => ok(row['holdpush-redis']) && row['holdpush-redis'].redis);
    const styles = new Set(rows.map((row) => row.label.replace(/^\d+ subs? /, '')));
    for (const style of styles) {
      const same = rows.filter((row) => row.label.replace(/^\d+ subs? /, '') === style);
      const subs = (row) => Number(/^\d+/.exec(row.label)[0]);
      const one = same.find((row) => subs(row) === 1);
      const most = same.reduce((a, b) => (subs(b) > subs(a) ? b : a), same[0]);
      if (!one || most === one) continue;
      const c1 = one['holdpush-redis'].redis.commandsPerPublished;
      const cn = most['holdpush-redis'].redis.commandsPerPublished;
      const q = ratio(cn, c1);
      add(`${w} ${style}: Redis commands per published message, ${subs(most)} subscribers vs 1 (O(1) in subscribers)`, q, '<= 2x', q != null && q <= 2, `${c1 == null ? 'n/a' : c1.toFixed(2)} -> ${cn == null ? 'n/a' : cn.toFixed(2)}`);
    }
  }
  for (const row of (W.W1 || []).filter((r) => /^N=5000 /.test(r.label))) {
    const two = row['holdpush-workers'];
    const one = row['holdpush-1proc'];
    if (!ok(two) || !ok(one)) continue;
    const q = ratio(two.deliveriesPerSec, one.deliveriesPerSec);
    add(`W1 ${row.label}: --workers 2 vs one process (server and load over cores 0-1)`, q, '>= 1.6x', q != null && q >= 1.6);
  }
  return out;
}

module.exports = { NAMES, targets, unavailable, cores, jobExtras, metrics, redisLines, checks };

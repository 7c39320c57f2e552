#!/usr/bin/env node
'use strict';
// What a change costs on the hot path, in CPU instructions rather than seconds: each server runs
// under valgrind's callgrind, which counts the instructions it executes whatever else the machine
// is doing, through one fixed workload (W1-like: N held long-polls, M messages one at a time,
// each subscriber re-polling with its position the moment it has it; then W3-like: S subscribers
// re-polling while P messages are published, 8 in flight). A short run of the same server
// (start-up and a few requests) is taken off, so what is compared is the workload's own count.
// The servers take turns, run after run. scripts/BENCH.md, "Instructions", says how to read it.
//
//   node scripts/bench-instructions.js --server now=dist/server.js --server before=../old/dist/server.js
//   node scripts/bench-instructions.js --feature-costs      # issue 19's features against plain holdpush
//   node scripts/bench-instructions.js --node 26 --variant on= --variant 'off=args=--fast-wire false'
//
// Traffic goes to 127.0.0.1 only; every wait has a deadline and every server is killed on the way out.

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const IV = require('./bench-instructions-variants.js');
const { fetchNode } = require('./bench-variants.js');
const { PHASES } = require('./bench-instructions-phases');

const HOST = '127.0.0.1';
const SIZES = {
  default: { n: 100, m: 30, s: 10, p: 300 },
  smoke: { n: 4, m: 3, s: 2, p: 10 },
};
const START_UP = { n: 2, m: 1, s: 1, p: 1 };
const WAIT_MS = 600_000; // a server under callgrind runs some 50 times slower

function usage(code) {
  process.stderr.write(`usage: node scripts/bench-instructions.js [--server NAME=PATH]... [--repeat N] [--smoke] [--json FILE]
  --server NAME=PATH  a holdpush server script (default now=dist/server.js); the first is the base
  --variant NAME=SPEC holdpush run another way, SPEC as npm run bench's --variant takes it
                      (server=, node=, args=, subscribe-secret=, publish-token=, log=,
                      webhook-url=app, auth-url=app: scripts/BENCH.md, "Variants")
  --feature-costs     base (plain holdpush) and issue 19's features: jwt, pubtoken, logtext,
                      logjson, presence, auth10, auth0; judged by their issues' bounds
  --node M|PATH       the node every server runs on unless its spec names one (a major such as
                      26 is fetched by scripts/node-fetch.sh; default: this node)
  --repeat N          runs of the workload per server, taking turns (default 3)
  --smoke             a tiny workload: the tool works (the test suite runs it)
  --workload NAME     pub (one-message publishes) or batch (W3's batch subscribers) instead of the default
  --json FILE         also write every count there
`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { servers: [], repeat: 3, size: 'default', json: null, featureCosts: false, node: process.execPath, phase: null };
  const add = (spec) => {
    try {
      o.servers.push(IV.parse(spec));
    } catch (e) {
      die(e.message);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(2));
    if (a === '--server') {
      const [name, file] = val().split(/=(.*)/s);
      if (!name || !file) usage(2);
      add(`${name}=server=${file}`);
    } else if (a === '--variant') add(val());
    else if (a === '--feature-costs') o.featureCosts = true;
    else if (a === '--node') {
      const v = val();
      try {
        o.node = /^\d+(\.\d+\.\d+)?$/.test(v) ? fetchNode(v, process.cwd()) : path.resolve(v);
      } catch (e) {
        die(e.message);
      }
    } else if (a === '--repeat') o.repeat = Math.max(1, Math.min(20, Math.floor(Number(val())) || 1));
    else if (a === '--smoke') o.size = 'smoke';
    else if (a === '--workload') o.phase = PHASES[val()] ?? usage(2);
    else if (a === '--json') o.json = val();
    else if (a === '--help') usage(0);
    else usage(2);
  }
  if (o.featureCosts) o.servers.push(...IV.featureCosts());
  if (!o.servers.length) add('now=');
  o.file = path.resolve(__dirname, '..', 'dist', 'server.js');
  if (o.servers.some((s) => !s.server) && !fs.existsSync(o.file)) die(`${o.file} not found (npm run build)`);
  return o;
}

function die(message) {
  process.stderr.write(`bench-instructions: ${message}\n`);
  process.exit(2);
}

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * One HTTP client whose requests all time out: a server that stops answering ends the run.
 * `sent` counts its requests by method and first path segment: the channel-info polls (`GET pub`)
 * follow the wall clock, so their number says how much of a count is waiting rather than work.
 */
function client(port, auth, sent) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  return (method, urlPath, headers, body) =>
    new Promise((resolve, reject) => {
      const kind = `${method} ${urlPath.split('/')[1]}`;
      sent[kind] = (sent[kind] || 0) + 1;
      const req = http.request({ host: HOST, port, method, path: urlPath, headers: { ...headers, ...auth(method, urlPath) }, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.setTimeout(WAIT_MS, () => req.destroy(new Error(`${method} ${urlPath}: no answer within ${WAIT_MS} ms`)));
      req.end(body);
    });
}

/**
 * Waits for `test()`, every 20 ms; `backoff` doubles the pause up to 320 ms, for a test that asks
 * the server: each question costs it instructions, and how many are asked follows the wall clock
 * (a loaded machine slows the server under callgrind), so the fewer the steadier the count.
 */
async function until(what, test, backoff = false) {
  const deadline = Date.now() + WAIT_MS;
  let pause = 20;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    if (backoff) pause = Math.min(320, pause * 2);
  }
}

/** Subscribers on `channel`, each reading `want` messages with its position; `got[i]` counts them. */
function subscribe(request, channel, count, want) {
  const got = new Array(count).fill(0);
  const done = got.map(async (_, i) => {
    let position = {};
    while (got[i] < want) {
      const res = await request('GET', `/sub/${channel}`, position);
      if (res.status !== 200) throw new Error(`/sub/${channel}: ${res.status}`);
      got[i] += 1;
      position = { 'if-none-match': res.headers.etag, 'if-modified-since': res.headers['last-modified'] };
    }
  });
  return { got, done: Promise.all(done) };
}

async function workload(request, size) {
  const publish = (channel, k) => request('POST', `/pub/${channel}`, { 'content-type': 'text/plain' }, `#${k}#`.padEnd(64, '.'));
  const held = async (channel) => {
    const res = await request('GET', `/pub/${channel}`, { accept: 'application/json' });
    return res.status === 200 ? JSON.parse(res.body).subscribers : 0;
  };
  // W1-like: each message waits until every re-poll is held.
  await publish('w1', 0);
  const w1 = subscribe(request, 'w1', size.n, size.m + 1);
  await until('the first message everywhere', async () => w1.got.every((g) => g >= 1));
  for (let k = 1; k <= size.m; k++) {
    await until(`${size.n} held`, async () => (await held('w1')) >= size.n, true);
    await publish('w1', k);
    await until(`message ${k} everywhere`, async () => w1.got.every((g) => g >= k + 1));
  }
  await w1.done;
  // W3-like: a stream published as fast as 8 publishers go.
  await publish('w3', 0);
  const w3 = subscribe(request, 'w3', size.s, size.p + 1);
  await until('the stream started', async () => w3.got.every((g) => g >= 1));
  let next = 1;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next <= size.p) await publish('w3', next++);
  }));
  await w3.done;
}

/** Runs `name` (one of `servers`) under callgrind through the workload of `size` (or `phase`'s); resolves its instruction count. */
async function countRun(servers, name, size, phase, sent = {}) {
  const s = await servers.start(name);
  let failure = null;
  await (phase ? phase.run : workload)(client(s.port, s.headers, sent), size).catch((e) => {
    failure = e;
    s.kill();
  });
  await s.stop();
  if (failure) throw failure;
  if (s.instructions === undefined) throw new Error(`${name}: ${s.failure}`);
  return s.instructions;
}

function fmtM(n) {
  return `${(n / 1e6).toFixed(1)}M`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const size = SIZES[o.size];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdpush-instructions-'));
  const counts = Object.fromEntries(o.servers.map((s) => [s.name, { startUp: 0, runs: [] }]));
  const flags = ['--port', '0', '--host', HOST, '--log', 'off', '--buffer', '10000', '--hold-timeout', '300'];
  const servers = IV.create(o.servers, { file: o.file, node: o.node, flags, dir, live, waitMs: WAIT_MS });
  let appCounts = null;
  try {
    for (const s of o.servers) counts[s.name].startUp = await countRun(servers, s.name, START_UP, o.phase);
    for (let r = 0; r < o.repeat; r++) {
      for (const s of o.servers) {
        const sent = {};
        const total = await countRun(servers, s.name, size, o.phase, sent);
        counts[s.name].runs.push(total - counts[s.name].startUp);
        (counts[s.name].sent ||= []).push(sent);
        const requests = Object.entries(sent).map(([k, n]) => `${k} ${n}`).join(', ');
        process.stderr.write(`  run ${r + 1} ${s.name}: ${fmtM(total)} instructions, workload ${fmtM(total - counts[s.name].startUp)} (requests: ${requests})\n`);
      }
    }
    appCounts = await servers.variants.appCounts();
  } finally {
    await servers.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const deliveries = o.phase ? o.phase.units(size) : size.n * (size.m + 1) + size.s * (size.p + 1);
  const unit = o.phase ? o.phase.unit : 'delivery';
  const base = o.servers[0].name;
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const what = o.phase ? `${o.phase === PHASES.pub ? '' : `${size.s} batch subscribers x `}${o.phase.units(size) / (o.phase === PHASES.pub ? 1 : size.s)} messages` : `${size.n} held x ${size.m} messages, then ${size.s} subscribers x ${size.p} messages`;
  const lines = [`instructions of one workload (${what}: ${deliveries} ${unit === 'publish' ? 'publishes' : 'deliveries'}), start-up taken off; ${o.repeat} run(s) each; node ${IV.version(o.node)}`];
  for (const s of o.servers) {
    const c = counts[s.name];
    const m = mean(c.runs);
    const spread = ((Math.max(...c.runs) - Math.min(...c.runs)) / m) * 100;
    const q = m / mean(counts[base].runs);
    lines.push(`  ${s.name.padEnd(12)} ${fmtM(m).padStart(10)} (spread ${spread.toFixed(1)}%), ${Math.round(m / deliveries).toLocaleString('en-US')} per ${unit}${s.name === base ? '' : `, ${q.toFixed(3)}x ${base}`}`);
  }
  const { judged, notes } = IV.report(o, counts, servers.variants.describe(), appCounts);
  lines.push(...notes);
  process.stdout.write(lines.join('\n') + '\n');
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ size, deliveries, servers: servers.variants.describe(), counts, judged, appCounts }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench-instructions: ${e.message}\n`);
  process.exit(1);
});

'use strict';
// Variants for `npm run bench`: holdpush (or the bare server) run another way, measured in the
// same run as a target of its own, with its ratio to the target it varies. scripts/bench.js asks
// this module for the variants' targets, their ratio columns and the bounds they are judged by.
//
//   --variant NAME=SPEC   SPEC is `;`-separated key=value (BENCH.md, "Variants"):
//     base=holdpush|baseline   what it varies (default holdpush); the ratio is to that
//     server=PATH              another server script (an older build's dist/server.js)
//     node=PATH|MAJOR          another node binary; a major (26) is fetched by scripts/node-fetch.sh
//     args=FLAGS               more server flags, space-separated
//     subscribe-secret=S       --subscribe-secret S, and every subscribe carries an HS256 JWT
//     publish-token=T          --publish-token T, and every publish and channel-info request the token
//     log=text|json            --log text|json, the server's stdout to a file (deleted after)
//     webhook-url=app|URL      --webhook-url: `app` is scripts/bench-app.js on the load core
//     auth-url=app|URL         --auth-url: the same app, saying yes to every question
//   --node-major 26 (--node26)  holdpush@26 and baseline@26
//   --feature-costs             one variant per feature of issue 19's "Feature costs"
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const cp = require('node:child_process');
const crypto = require('node:crypto');
const http = require('node:http');

const BASES = ['holdpush', 'baseline'];
const SHORT = { holdpush: 'hp', baseline: 'bl' };
const KEYS = ['base', 'server', 'node', 'args', 'subscribe-secret', 'publish-token', 'log', 'webhook-url', 'auth-url'];
/** Keys that change holdpush's behaviour: the bare server has none of these features. */
const HOLDPUSH_ONLY = ['subscribe-secret', 'publish-token', 'log', 'webhook-url', 'auth-url'];

/** Parses `NAME=SPEC`; throws an Error saying what is wrong. `root` resolves relative paths. */
function parse(text, root) {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  if (!/^[A-Za-z][A-Za-z0-9@._-]{0,23}$/.test(name)) throw new Error(`--variant ${text}: the name must be a letter then up to 23 of [A-Za-z0-9@._-]`);
  if (BASES.includes(name) || name === 'nchan') throw new Error(`--variant ${name}: that name is a target's`);
  const v = { name, base: 'holdpush', args: [] };
  const keys = new Set();
  for (const part of (eq < 0 ? '' : text.slice(eq + 1)).split(';')) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim();
    const value = i < 0 ? '' : part.slice(i + 1).trim();
    if (!KEYS.includes(key)) throw new Error(`--variant ${name}: unknown key "${key}" (one of ${KEYS.join(', ')})`);
    if (value === '') throw new Error(`--variant ${name}: ${key} needs a value`);
    keys.add(key);
    if (key === 'base') {
      if (!BASES.includes(value)) throw new Error(`--variant ${name}: base must be ${BASES.join(' or ')}`);
      v.base = value;
    } else if (key === 'server') {
      v.server = path.resolve(root, value);
      if (!fs.existsSync(v.server)) throw new Error(`--variant ${name}: ${v.server} not found`);
    } else if (key === 'node') {
      v.node = /^\d+(\.\d+\.\d+)?$/.test(value) ? fetchNode(value, root) : path.resolve(root, value);
    } else if (key === 'args') v.args.push(...value.split(/\s+/));
    else if (key === 'subscribe-secret') v.subscribeSecret = value;
    else if (key === 'publish-token') v.publishToken = value;
    else if (key === 'log') {
      if (value !== 'text' && value !== 'json') throw new Error(`--variant ${name}: log is text or json`);
      v.log = value;
    } else if (key === 'webhook-url') v.webhookUrl = value;
    else if (key === 'auth-url') v.authUrl = value;
    v.spec = (v.spec ? v.spec + ';' : '') + part.trim();
  }
  const bad = v.base === 'holdpush' ? [] : HOLDPUSH_ONLY.filter((k) => keys.has(k));
  if (bad.length) throw new Error(`--variant ${name}: the bare server has no ${bad.join(', ')}: these are holdpush's`);
  if (v.node) v.nodeVersion = nodeVersion(v.node, name);
  return v;
}

/** The node binary of a major (or x.y.z), fetched as the Node matrix does. */
function fetchNode(version, root) {
  const script = path.join(__dirname, 'node-fetch.sh');
  const out = cp.spawnSync('bash', [script, version], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300000 });
  if (out.status !== 0) throw new Error(`node ${version}: scripts/node-fetch.sh failed (${out.status ?? out.signal})`);
  return out.stdout.trim().split('\n').pop();
}

function nodeVersion(bin, name) {
  const out = cp.spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20000 });
  if (out.status !== 0) throw new Error(`--variant ${name}: ${bin} --version failed`);
  return out.stdout.trim();
}

/** `--node-major M`: holdpush and the bare server under node M, beside the machine's node. */
function nodeMajor(major, root) {
  const node = fetchNode(String(major), root);
  const version = nodeVersion(node, 'node ' + major);
  return BASES.map((base) => ({ name: `${base}@${major}`, base, args: [], node, nodeVersion: version, spec: `node=${major}` }));
}

/**
 * `--feature-costs`: issue 19's "Feature costs", each a variant of plain holdpush in the same
 * run. The bounds are the issues' own: presence (issue 15) may cost 5% of W1's deliveries/s and
 * server CPU per delivery on the memory store; the auth cache (issue 16, with its 10 s cache) 5%
 * of W1's deliveries/s.
 */
function featureCosts() {
  const secret = crypto.randomBytes(24).toString('base64url');
  const token = crypto.randomBytes(24).toString('base64url');
  const at = (most) => ({ most, need: `>= ${(1 - most).toFixed(2)}x`, ok: (q) => q >= 1 - most });
  const atMostMore = (most) => ({ most, need: `<= ${(1 + most).toFixed(2)}x`, ok: (q) => q <= 1 + most });
  const list = [
    ['jwt', `subscribe-secret=${secret}`],
    ['pubtoken', `publish-token=${token}`],
    ['logtext', 'log=text'],
    ['logjson', 'log=json'],
    ['presence', 'webhook-url=app'],
    ['auth10', 'auth-url=app;args=--auth-cache 10'],
    ['auth0', 'auth-url=app;args=--auth-cache 0'],
  ].map(([name, spec]) => parse(`${name}=${spec}`, process.cwd()));
  const byName = Object.fromEntries(list.map((v) => [v.name, v]));
  byName.presence.bounds = [
    { workload: 'W1', metric: 'deliveries/s', source: 'issue 15', ...at(0.05) },
    { workload: 'W1', metric: 'server CPU us/delivery', source: 'issue 15', ...atMostMore(0.05) },
  ];
  byName.auth10.bounds = [{ workload: 'W1', metric: 'deliveries/s', source: 'issue 16', ...at(0.05) }];
  return list;
}

/**
 * The variants of one run. `ctx`: the bench's `targets` (holdpush and baseline, whose
 * start(workers, run) takes the run's overrides) and `startApp()` (bench-app.js on the load core).
 */
function create(list, ctx) {
  const seen = new Set();
  for (const v of list) {
    if (seen.has(v.name)) throw new Error(`--variant ${v.name} given twice`);
    seen.add(v.name);
  }
  const byName = new Map(list.map((v) => [v.name, v]));
  /** port -> what the load must send to the variant listening there */
  const credentials = new Map();
  let app = null;
  let logs = 0;

  async function flags(v) {
    const out = [];
    if (v.subscribeSecret) out.push('--subscribe-secret', v.subscribeSecret);
    if (v.publishToken) out.push('--publish-token', v.publishToken);
    if (v.log) out.push('--log', v.log);
    for (const [flag, url, route] of [
      ['--webhook-url', v.webhookUrl, '/webhook'],
      ['--auth-url', v.authUrl, '/auth'],
    ]) {
      if (!url) continue;
      if (url === 'app') {
        app = app || ctx.startApp();
        out.push(flag, `http://127.0.0.1:${(await app).port}${route}`);
      } else out.push(flag, url);
    }
    return out.concat(v.args);
  }

  function target(v) {
    const base = ctx.targets[v.base];
    return {
      positions: base.positions,
      batch: base.batch,
      async start(workers = 1) {
        const run = { name: v.name, server: v.server, node: v.node, args: await flags(v) };
        // A log goes to a file, as a deployment's would, not to a pipe the load core reads.
        if (v.log) run.stdoutFile = path.join(os.tmpdir(), `holdpush-bench-${v.name}-${process.pid}-${++logs}.log`);
        const s = await base.start(workers, run);
        if (v.subscribeSecret || v.publishToken) credentials.set(s.port, { subscribeSecret: v.subscribeSecret, publishToken: v.publishToken });
        const stop = s.stop;
        s.stop = async () => {
          await stop.call(s);
          credentials.delete(s.port);
          if (run.stdoutFile) {
            try {
              v.logBytes = (v.logBytes || 0) + fs.statSync(run.stdoutFile).size;
              fs.unlinkSync(run.stdoutFile);
            } catch {
              /* the server never wrote it */
            }
          }
        };
        return s;
      },
    };
  }

  return {
    names: list.map((v) => v.name),
    /** The bases the variants need among the run's targets. */
    bases: [...new Set(list.map((v) => v.base))],
    targets: () => Object.fromEntries(list.map((v) => [v.name, target(v)])),
    isVariant: (name) => byName.has(name),
    /** What the load must send to the server on `port` (null: nothing). */
    authOf: (port) => credentials.get(port) || null,
    /** One ratio column per variant: variant ÷ its base. */
    columns: (names) => list.filter((v) => names.includes(v.name)).map((v) => ({ label: `${v.name}/${SHORT[v.base]}`, name: v.name, base: v.base })),
    /** Puts each variant's ratios to its base into its figures (`vsBase`), for the JSON. */
    addRatios(results, metrics, ratio) {
      for (const [w, rows] of Object.entries(results.workloads)) {
        for (const row of rows) {
          for (const v of list) {
            const r = row[v.name];
            const b = row[v.base];
            if (!r || r.na || r.error || !b || b.na || b.error || !metrics[w]) continue;
            r.vsBase = { base: v.base };
            for (const [label, get, kind] of metrics[w]) {
              if (kind !== 'zero' && kind !== 'info') r.vsBase[label] = ratio(get(r), get(b));
            }
          }
        }
      }
    },
    /** Nothing lost, for every variant; and each variant's bounds, on every row of its workload. */
    checks(results) {
      const out = [];
      for (const v of list) {
        let lost = 0;
        let seen = 0;
        for (const rows of Object.values(results.workloads)) {
          for (const row of rows) {
            const r = row[v.name];
            if (r && !r.na && !r.error && r.lost != null && !r.sameAs) {
              lost += r.lost;
              seen++;
            }
          }
        }
        if (seen && v.base === 'holdpush') out.push({ target: `nothing lost (${v.name}, every workload)`, value: lost, need: 0, ok: lost === 0 });
        for (const b of v.bounds || []) {
          for (const row of results.workloads[b.workload] || []) {
            const r = row[v.name];
            const q = r && r.vsBase ? r.vsBase[b.metric] : null;
            if (r && (r.na || r.error)) out.push({ target: `${b.workload} ${row.label}: ${v.name} ${b.metric} vs ${v.base}`, value: 'n/a', need: b.need, ok: false, note: b.source });
            else if (q != null) out.push({ target: `${b.workload} ${row.label}: ${v.name} ${b.metric} vs ${v.base}`, value: q, need: b.need, ok: b.ok(q), note: b.source });
          }
        }
      }
      return out;
    },
    /** What each variant is, for the JSON and the lines under the table. */
    describe() {
      return list.map((v) => ({
        name: v.name,
        base: v.base,
        spec: (v.spec || '').replace(/(secret|token)=[^;]*/g, '$1=…'),
        server: v.server,
        node: v.node,
        nodeVersion: v.nodeVersion,
        logBytes: v.logBytes,
      }));
    },
    /** The app's request counts by path (auth questions, webhook deliveries), when it ran. */
    async appCounts() {
      if (!app) return null;
      const { port } = await app;
      return new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/count', timeout: 5000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            try {
              resolve(JSON.parse(body));
            } catch {
              resolve({ error: 'not JSON: ' + body.slice(0, 100) });
            }
          });
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', (e) => resolve({ error: e.message }));
      });
    },
  };
}

module.exports = { parse, nodeMajor, featureCosts, create, fetchNode };

'use strict';
// The servers scripts/bench-instructions.js counts, as variants of holdpush: the same specs as
// `npm run bench -- --variant` (scripts/bench-variants.js: another build, another node, more
// flags, the credentials the load must send, a request log into a file, scripts/bench-app.js
// behind --auth-url and --webhook-url), each started under callgrind instead of pinned to a core.
// `--feature-costs` is issue 19's list against plain holdpush, judged by the issues' bounds in
// instructions rather than deliveries/s.
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const V = require('./bench-variants.js');
const { signJwt } = require('./bench-lib.js');

const ROOT = path.resolve(__dirname, '..');

/** `NAME=SPEC` as `--variant` takes it; only holdpush's variants (the workload is holdpush's). */
function parse(text) {
  const v = V.parse(text, process.cwd());
  if (v.base !== 'holdpush') throw new Error(`--variant ${v.name}: only holdpush runs here`);
  return v;
}

/**
 * Plain holdpush (`base`) and one variant per feature of issue 19. A bound of the issues is on
 * deliveries/s or CPU per delivery: here each is read as "the variant's instructions at most
 * (1 + most) times the base's", one line per issue.
 */
function featureCosts() {
  return [parse('base='), ...V.featureCosts()].map((v) => {
    const seen = new Map();
    for (const b of v.bounds || []) seen.set(b.source, Math.min(b.most, seen.get(b.source) ?? Infinity));
    return Object.assign(v, { costBounds: [...seen].map(([source, most]) => ({ source, most })) });
  });
}

/** The Authorization header each request to a variant needs (`auth`: from bench-variants' authOf). */
function authHeaders(auth) {
  const jwts = new Map();
  return (method, urlPath) => {
    if (!auth) return {};
    const [, kind, channel] = urlPath.split('?')[0].split('/');
    if (kind === 'sub' && auth.subscribeSecret) {
      if (!jwts.has(channel)) jwts.set(channel, signJwt({ holdpush: { subscribe: [channel] } }, auth.subscribeSecret));
      return { authorization: `Bearer ${jwts.get(channel)}` };
    }
    if (kind === 'pub' && auth.publishToken) return { authorization: `Bearer ${auth.publishToken}` };
    return {};
  };
}

/** Resolves `{ port }` once `text` (a stdout so far) names it, or rejects after `ms`. */
function readPort(child, stdoutFile, ms, what) {
  return new Promise((resolve, reject) => {
    let text = '';
    let err = '';
    const finish = (e, port) => {
      clearTimeout(timer);
      clearInterval(poll);
      child.stdout?.removeListener('data', onData);
      child.stderr.removeListener('data', onErr);
      child.removeListener('close', onExit);
      if (e) reject(e);
      else resolve(port);
    };
    const seen = () => {
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(text);
      if (m) finish(null, Number(m[1]));
    };
    const onData = (d) => {
      text = (text + d).slice(-8000);
      seen();
    };
    const onErr = (d) => (err = (err + d).slice(-4000));
    const onExit = (code, sig) => finish(new Error(`${what} exited (${sig || code}) before listening: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    const timer = setTimeout(() => finish(new Error(`${what}: no "listening on" line within ${ms} ms`)), ms);
    // A log goes to a file (as a deployment's would): the line is read from there.
    const poll = stdoutFile
      ? setInterval(() => {
          try {
            text = fs.readFileSync(stdoutFile, 'latin1').slice(0, 8000);
          } catch {
            return;
          }
          seen();
        }, 50)
      : null;
    child.stdout?.on('data', onData);
    child.stderr.on('data', onErr);
    child.on('close', onExit);
  });
}

/**
 * The servers of one count: `list` (parsed variants), `o.file` (the default script), `o.node` (the
 * default node binary), `o.flags` (every server's own flags), `o.dir` (callgrind's output),
 * `o.live` (children to kill on the way out), `o.waitMs` (how long a start may take).
 */
function create(list, o) {
  let appChild = null;

  function startApp() {
    appChild = cp.spawn(process.execPath, [path.join(__dirname, 'bench-app.js'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    o.live.add(appChild);
    appChild.on('close', () => o.live.delete(appChild));
    return readPort(appChild, null, 15000, 'bench-app').then((port) => ({ port }));
  }

  /** bench-variants' holdpush target, started under callgrind with a variant's overrides. */
  async function startUnder(_workers, run) {
    const out = path.join(o.dir, `callgrind.${run.name}.${process.hrtime.bigint()}`);
    const node = run.node || o.node;
    const args = ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, node, run.server || o.file, ...o.flags, ...(run.args || [])];
    const stdout = run.stdoutFile ? fs.openSync(run.stdoutFile, 'a') : 'pipe';
    const child = cp.spawn('valgrind', args, { cwd: ROOT, stdio: ['ignore', stdout, 'pipe'] });
    if (run.stdoutFile) fs.closeSync(stdout);
    o.live.add(child);
    // 'close' comes after 'exit', and also when valgrind could not be spawned at all.
    const exited = new Promise((resolve) => child.on('close', resolve));
    exited.then(() => o.live.delete(child));
    child.on('error', (e) => child.stderr.emit('data', `${e.message} (apt-get install valgrind)`));
    let port;
    try {
      port = await readPort(child, run.stdoutFile, o.waitMs, run.name);
    } catch (e) {
      child.kill('SIGKILL');
      await exited;
      if (run.stdoutFile) fs.rmSync(run.stdoutFile, { force: true });
      throw e;
    }
    const s = {
      port,
      kill: () => child.kill('SIGKILL'),
      /** Stops the server; `s.instructions` is then its total, `s.failure` why there is none. */
      async stop() {
        child.kill('SIGTERM');
        await exited;
        try {
          const total = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(out, 'utf8'));
          fs.rmSync(out);
          if (total) s.instructions = Number(total[1]);
          else s.failure = 'no instruction total in the callgrind output';
        } catch {
          s.failure = 'no callgrind output';
        }
      },
    };
    return s;
  }

  const variants = V.create(list, { targets: { holdpush: { start: startUnder } }, startApp });
  const targets = variants.targets();

  return {
    variants,
    /**
     * Starts `name` under callgrind. Resolves `{ port, headers(method, path), stop(), kill() }`:
     * after `stop()`, `instructions` is the total or `failure` says why there is none; `kill()`
     * is for a server that stopped answering (then `stop()` still cleans up after it).
     */
    async start(name) {
      const s = await targets[name].start();
      s.headers = authHeaders(variants.authOf(s.port));
      return s;
    },
    /** Stops bench-app.js, when a variant needed it. */
    async close() {
      if (!appChild || appChild.exitCode !== null) return;
      const gone = new Promise((resolve) => appChild.once('close', resolve));
      appChild.kill('SIGTERM');
      await gone;
    },
  };
}

function version(node) {
  const out = cp.spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 20000 });
  return out.status === 0 ? out.stdout.trim() : `? (${node})`;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The lines under the counts: what each variant was, what bench-app.js was asked, and each
 * feature's cost against `base` judged by its issue's bound (`judged`, for the JSON too).
 */
function report(o, counts, described, appCounts) {
  const notes = [];
  for (const d of described) {
    const what = [d.spec && `${d.spec}`, d.nodeVersion && `node ${d.nodeVersion}`, d.logBytes != null && `log ${d.logBytes.toLocaleString('en-US')} bytes`].filter(Boolean);
    if (what.length) notes.push(`  ${d.name}: ${what.join(', ')}`);
  }
  if (appCounts) notes.push(`  bench-app.js was asked: ${Object.entries(appCounts).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing'}`);
  const judged = [];
  const base = counts.base && counts.base.runs.length ? mean(counts.base.runs) : null;
  for (const v of o.servers) {
    for (const b of (base && v.costBounds) || []) {
      const q = mean(counts[v.name].runs) / base;
      const need = `<= ${(1 + b.most).toFixed(2)}x`;
      judged.push({ variant: v.name, source: b.source, value: q, need, ok: q <= 1 + b.most });
      if (o.size !== 'smoke') notes.push(`  ${q <= 1 + b.most ? 'met ' : 'MISS'} ${v.name} instructions ${q.toFixed(3)}x base, ${b.source}'s bound ${need}`);
    }
  }
  return { judged, notes };
}

module.exports = { parse, featureCosts, authHeaders, create, version, report };

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..');

interface Figures {
  na?: string;
  lost?: number;
  duplicates?: number;
  opened?: number;
  deliveriesPerSec?: number;
  totalDeliveriesPerSec?: number;
  bytesPerHeld?: number;
  brkBytesPerHeld?: number | null;
  loadProcesses?: number;
  timedPublishes?: number;
  toLastP99Ms?: number;
  connectionsPerSec?: number;
  pubStatuses?: Record<string, number>;
  vsBase?: Record<string, number | string | null>;
  pubBatch?: number;
  pubErrors?: number;
  windowWaits?: number;
}
type Row = { label: string } & Record<string, Figures | string>;

function figures(row: Row, target: string): Figures {
  const value = row[target];
  assert.ok(value !== undefined && typeof value !== 'string', `${row.label}: no figures for ${target}`);
  return value;
}

// `npm run bench` itself, at its smallest sizes: every workload against holdpush (dist/, which
// `pretest` builds) and the bare node:http server, and W1 and W3 against Socket.IO's polling, in
// their own processes. Figures at this size mean nothing; what is checked is that every workload
// ran to the end and neither holdpush nor Socket.IO lost anything.
test('npm run bench -- --smoke runs W1-W6, WT and WC against holdpush and the bare server, W1 and W3 against Socket.IO, and nothing is lost', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'smoke.json');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench.js'), '--smoke', '--targets', 'holdpush,baseline,socketio', '--json', json], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /holdpush bench, smoke profile/);
    const results = JSON.parse(readFileSync(json, 'utf8')) as { profile: string; targets: string[]; workloads: Record<string, Row[]> };
    assert.equal(results.profile, 'smoke');
    assert.deepEqual(results.targets, ['holdpush', 'baseline', 'socketio']);
    assert.deepEqual(Object.keys(results.workloads), ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'WT', 'WC']);
    for (const [workload, rows] of Object.entries(results.workloads)) {
      assert.ok(rows.length > 0, `${workload}: no rows`);
      for (const row of rows) {
        const own = figures(row, 'holdpush');
        assert.equal(own.na, undefined, `${workload} ${row.label}: ${own.na}`);
        if (workload !== 'W2') assert.equal(own.lost, 0, `${workload} ${row.label}: holdpush lost ${own.lost}`);
      }
    }
    for (const row of results.workloads.W1 as Row[]) {
      assert.ok((figures(row, 'holdpush').deliveriesPerSec ?? 0) > 0, row.label);
      assert.ok((figures(row, 'baseline').deliveriesPerSec ?? 0) > 0, row.label);
    }
    assert.ok((figures((results.workloads.W2 as Row[])[0] as Row, 'holdpush').bytesPerHeld ?? 0) > 0);
    // The malloc share is read from /proc/<pid>/smaps: a number for each node server (null if unread).
    for (const target of ['holdpush', 'baseline']) assert.equal(typeof figures((results.workloads.W2 as Row[])[0] as Row, target).brkBytesPerHeld, 'number', target);
    for (const row of results.workloads.W3 as Row[]) assert.ok((figures(row, 'holdpush').totalDeliveriesPerSec ?? 0) > 0, row.label);
    // Socket.IO runs W1 and W3 only, and in W3 only the batch rows (it has no other mode).
    for (const [workload, rows] of Object.entries(results.workloads)) {
      for (const row of rows) {
        if (workload !== 'W1' && workload !== 'W3') {
          assert.equal(row.socketio, undefined, `${workload} ${row.label}`);
          continue;
        }
        const sio = figures(row, 'socketio');
        if (/one-per-response/.test(row.label)) {
          assert.match(sio.na ?? '', /no one-per-response mode/, row.label);
          continue;
        }
        assert.equal(sio.na, undefined, `${workload} ${row.label}: ${sio.na}`);
        assert.equal(sio.lost, 0, `${workload} ${row.label}: Socket.IO lost ${sio.lost}`);
        assert.equal(sio.duplicates, 0, `${workload} ${row.label}: Socket.IO duplicates`);
        assert.ok(((workload === 'W1' ? sio.deliveriesPerSec : sio.totalDeliveriesPerSec) ?? 0) > 0, `${workload} ${row.label}`);
      }
    }
    const [single, workers] = results.workloads.W5 as Row[];
    assert.equal(figures(single as Row, 'holdpush').opened, 150);
    assert.equal(figures(workers as Row, 'holdpush').opened, 300, '--workers 2 holds twice a process');
    assert.equal(figures(workers as Row, 'baseline').na, 'the baseline is one process');
    // WT and WC: both servers do the same work, so the bare server loses nothing either.
    for (const target of ['holdpush', 'baseline']) {
      const wt = figures((results.workloads.WT as Row[])[0] as Row, target);
      assert.equal(wt.loadProcesses, 2, `WT ${target}: the subscribers are spread over two load processes`);
      assert.equal(wt.timedPublishes, 10, `WT ${target}: every timed publish reached every subscriber`);
      assert.ok((wt.toLastP99Ms ?? 0) > 0, `WT ${target}: p99`);
      assert.equal(wt.lost, 0, `WT ${target}: lost ${wt.lost}`);
      const wc = figures((results.workloads.WC as Row[])[0] as Row, target);
      assert.ok((wc.connectionsPerSec ?? 0) > 0, `WC ${target}: connections/s`);
      assert.equal(wc.lost, 0, `WC ${target}: lost ${wc.lost}`);
    }
    // W6: batch publishes (held back by the window at this size too) and one-message publishes.
    const w6 = results.workloads.W6 as Row[];
    assert.deepEqual(
      w6.map((row) => row.label),
      ['1 sub batch, publishes of 100', '1 sub batch, one-message publishes', '4 subs batch, publishes of 100', '4 subs batch, one-message publishes']
    );
    for (const row of w6) {
      const own = figures(row, 'holdpush');
      assert.equal(own.pubErrors, 0, row.label);
      assert.equal(own.pubBatch, /publishes of 100/.test(row.label) ? 100 : 1, row.label);
      assert.ok((own.totalDeliveriesPerSec ?? 0) > 0, row.label);
      assert.equal(figures(row, 'baseline').na, 'no batch mode');
    }
    assert.ok((figures(w6[0] as Row, 'holdpush').windowWaits ?? 0) > 0, 'the smoke window holds batch publishes back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface RedisFigures extends Figures {
  redis?: { commandsPerPublished: number | null; bytesInPerPublished: number | null; bytesOutPerPublished: number | null; byCommand: Record<string, number> };
}

// The Redis deployment target: two holdpush servers on a redis-server the bench starts itself,
// subscribers split over both. It must start, lose nothing across the two, report Redis's
// counters, and leave no redis-server behind.
test('npm run bench -- --smoke --targets holdpush-redis: two servers on one Redis lose nothing and Redis is counted', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'redis.json');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench.js'), '--smoke', '--only', 'W3,W6', '--targets', 'holdpush-redis', '--json', json], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /redis commands per published message, by command/);
    const results = JSON.parse(readFileSync(json, 'utf8')) as { workloads: Record<string, Row[]> };
    assert.deepEqual(Object.keys(results.workloads), ['W3', 'W6']);
    for (const [workload, rows] of Object.entries(results.workloads)) {
      for (const row of rows) {
        const own = row['holdpush-redis'] as RedisFigures | undefined;
        assert.ok(own !== undefined && own.na === undefined, `${workload} ${row.label}: ${own?.na}`);
        assert.equal(own.lost, 0, `${workload} ${row.label}: lost ${own.lost}`);
        assert.ok((own.redis?.commandsPerPublished ?? 0) > 0, `${workload} ${row.label}: no Redis commands counted`);
        assert.ok((own.redis?.bytesInPerPublished ?? 0) > 0 && (own.redis?.bytesOutPerPublished ?? 0) > 0, `${workload} ${row.label}: no Redis bytes counted`);
        assert.equal(own.redis?.byCommand.info, undefined, 'the bench leaves its own INFO out');
      }
    }
    assert.equal(readdirSync(tmpdir()).filter((name) => name.startsWith('holdpush-bench-redis-')).length, 0, 'its redis folder is removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [join(root, 'scripts', 'bench.js'), ...args], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
    });
  });
}

// A variant is holdpush run another way, beside plain holdpush: here with a publish token and a
// subscribe secret, so the load must send a Bearer token on every publish and a JWT on every
// subscribe (a missing or wrong one is a 401: nothing would arrive), and its log going to a file.
test('npm run bench -- --variant: a target of its own with its ratio to holdpush, credentials sent by the load', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'variant.json');
    const spec = 'auth=publish-token=bench-token;subscribe-secret=bench-secret;log=json';
    const { code, stdout, stderr } = await runBench(['--smoke', '--only', 'W1', '--targets', 'holdpush', '--variant', spec, '--json', json]);
    assert.equal(code, 0, stderr);
    const head = stdout.split('\n').find((line) => line.startsWith('workload'));
    assert.match(head ?? '', /holdpush\s+auth\s+auth\/hp$/);
    assert.match(stdout, /variant auth: holdpush with publish-token=…;subscribe-secret=…;log=json; [\d.]+ MB of log written/);
    assert.doesNotMatch(stdout, /bench-token|bench-secret/, 'secrets stay out of the output');
    const results = JSON.parse(readFileSync(json, 'utf8')) as { targets: string[]; workloads: Record<string, Row[]>; variants: { name: string; logBytes?: number }[] };
    assert.deepEqual(results.targets, ['holdpush', 'auth']);
    assert.ok((results.variants[0]?.logBytes ?? 0) > 0, 'the JSON log went to its file');
    for (const row of results.workloads.W1 as Row[]) {
      const own = figures(row, 'holdpush');
      const variant = figures(row, 'auth');
      assert.equal(variant.na, undefined, `${row.label}: ${variant.na}`);
      assert.equal(variant.lost, 0, row.label);
      assert.deepEqual(Object.keys(variant.pubStatuses ?? {}), ['201'], `${row.label}: every publish accepted`);
      assert.ok((variant.deliveriesPerSec ?? 0) > 0, row.label);
      assert.equal(variant.vsBase?.base, 'holdpush');
      assert.equal(variant.vsBase?.['deliveries/s'], (variant.deliveriesPerSec ?? 0) / (own.deliveriesPerSec ?? 1));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run bench -- --variant: a bad spec is one line and exit status 2', { timeout: 20_000 }, async () => {
  const unknown = await runBench(['--smoke', '--variant', 'x=colour=blue']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^bench: --variant x: unknown key "colour"/);
  const bare = await runBench(['--smoke', '--variant', 'x=base=baseline;log=text']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^bench: --variant x: the bare server has no log: these are holdpush's/);
});

// The instruction counts (scripts/bench-instructions.js): holdpush under callgrind through the
// tiny workload, its start-up taken off, a count per delivery printed and written.
test('node scripts/bench-instructions.js --smoke counts the instructions of a workload under callgrind', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'instructions.json');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench-instructions.js'), '--smoke', '--repeat', '1', '--json', json], { cwd: root }, (error, out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^ {2}now +[\d.]+M \(spread 0\.0%\), [\d,]+ per delivery$/m);
    const results = JSON.parse(readFileSync(json, 'utf8')) as { deliveries: number; counts: Record<string, { startUp: number; runs: number[]; sent: Record<string, number>[] }> };
    const now = results.counts.now;
    assert.ok(now !== undefined && now.startUp > 0, 'the start-up run was counted');
    assert.equal(now.runs.length, 1);
    // One subscribe per delivery, one publish per message; the channel-info polls vary with time.
    assert.equal(now.sent[0]?.['GET sub'], 4 * 4 + 2 * 11);
    assert.equal(now.sent[0]?.['POST pub'], 4 + 11);
    assert.match(stderr, /^ {2}run 1 now: [\d.]+M instructions, workload [\d.]+M \(requests: .*GET pub \d+/m);
    assert.ok((now.runs[0] ?? 0) > 0, 'the workload costs instructions beyond the start-up');
    assert.equal(results.deliveries, 4 * 4 + 2 * 11);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A variant counted under callgrind (scripts/bench-instructions-variants.js): every credential
// and side of issue 19's feature costs in one server, so one tiny run shows that the load sends
// what the server demands (a refused subscribe or publish fails the run), that the log went to a
// file, that bench-app.js was asked, and that --node picks the binary.
test('node scripts/bench-instructions.js --variant: credentials, a log file, bench-app.js and --node under callgrind', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'instructions.json');
    const spec = 'all=subscribe-secret=sekrit-one;publish-token=sekrit-two;log=json;auth-url=app;args=--auth-cache 0 --fast-wire false';
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench-instructions.js'), '--smoke', '--repeat', '1', '--node', process.execPath, '--variant', spec, '--json', json], { cwd: root }, (error, out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`; node ${process.version.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(stdout, /^ {2}all +[\d.]+M \(spread 0\.0%\), [\d,]+ per delivery$/m);
    assert.match(stdout, /^ {2}all: subscribe-secret=…;publish-token=…;log=json;auth-url=app;args=--auth-cache 0 --fast-wire false, log [\d,]+ bytes$/m);
    assert.doesNotMatch(stdout + readFileSync(json, 'utf8'), /sekrit/);
    const results = JSON.parse(readFileSync(json, 'utf8')) as { servers: { name: string; logBytes?: number }[]; appCounts: Record<string, number> | null; counts: Record<string, { runs: number[] }> };
    assert.ok((results.servers[0]?.logBytes ?? 0) > 0, 'the request log went to its file');
    assert.ok((results.appCounts?.['/auth'] ?? 0) > 0, 'bench-app.js was asked about the subscribes');
    assert.ok((results.counts.all?.runs[0] ?? 0) > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --feature-costs: base and issue 19's seven features, and each bound of the issues read as an
// instruction ratio to base (the counts here are made up: the judgement is what is tested).
test('bench-instructions --feature-costs: the features, and the issues\' bounds judged against base', () => {
  const IV = require('../scripts/bench-instructions-variants.js') as {
    featureCosts(): { name: string; costBounds?: { source: string; most: number }[] }[];
    report(o: object, counts: Record<string, { runs: number[] }>, described: object[], appCounts: object | null): { judged: { variant: string; source: string; value: number; need: string; ok: boolean }[]; notes: string[] };
  };
  const servers = IV.featureCosts();
  assert.deepEqual(servers.map((s) => s.name), ['base', 'jwt', 'pubtoken', 'logtext', 'logjson', 'presence', 'auth10', 'auth0']);
  const counts = Object.fromEntries(servers.map((s) => [s.name, { runs: [100, 100] }]));
  counts.presence = { runs: [103, 105] };
  counts.auth10 = { runs: [106, 106] };
  const { judged, notes } = IV.report({ servers, size: 'default' }, counts, [], null);
  assert.deepEqual(judged.map(({ variant, source, need, ok }) => ({ variant, source, need, ok })), [
    { variant: 'presence', source: 'issue 15', need: '<= 1.05x', ok: true },
    { variant: 'auth10', source: 'issue 16', need: '<= 1.05x', ok: false },
  ]);
  assert.deepEqual(notes, ['  met  presence instructions 1.040x base, issue 15\'s bound <= 1.05x', '  MISS auth10 instructions 1.060x base, issue 16\'s bound <= 1.05x']);
});

test('node scripts/bench-instructions.js --variant: a bad spec or the bare server is one line and exit status 2', { timeout: 20_000 }, async () => {
  for (const [spec, message] of [
    ['x=base=baseline', /^bench-instructions: --variant x: only holdpush runs here\n$/],
    ['x=colour=red', /^bench-instructions: --variant x: unknown key "colour" \(one of base, server, node, /],
  ] as const) {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench-instructions.js'), '--variant', spec], { cwd: root }, (error, _out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stderr: err });
      });
    });
    assert.equal(code, 2, spec);
    assert.match(stderr, message);
  }
});

// The --workload phases of bench-instructions.js, without callgrind: they run against a real
// server, lose nothing (each subscriber reads every message) and do the publishes they count.
test('bench-instructions --workload pub and batch: the publishes they count, every message read', { timeout: 30_000 }, async (t) => {
  const { serve } = await import('./support/servers');
  const { request } = await import('./support/http');
  type Answer = { status: number; headers: Record<string, unknown>; body: string };
  type Phase = { unit: string; units(size: object): number; run(request: (method: string, path: string, headers: object, body?: string) => Promise<Answer>, size: object): Promise<void> };
  const { PHASES } = require('../scripts/bench-instructions-phases.js') as { PHASES: Record<'pub' | 'batch', Phase> };
  const s = await serve(t);
  const send = async (method: string, path: string, headers: object, body?: string): Promise<Answer> => {
    const reply = await request(`${s.url}${path}`, { method, headers: headers as Record<string, string>, body });
    return { status: reply.status, headers: reply.headers, body: reply.text };
  };
  const size = { n: 4, m: 3, s: 3, p: 20 };
  await PHASES.pub.run(send, size);
  assert.equal(s.holdpush.stats().messages.published, PHASES.pub.units(size));
  await PHASES.batch.run(send, size);
  assert.equal(s.holdpush.stats().messages.published, PHASES.pub.units(size) + size.p + 1);
  assert.equal(PHASES.batch.units(size), size.s * size.p);
});

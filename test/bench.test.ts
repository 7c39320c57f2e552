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
  opened?: number;
  deliveriesPerSec?: number;
  totalDeliveriesPerSec?: number;
  bytesPerHeld?: number;
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
// `pretest` builds) and the bare node:http server, in their own processes. Figures at this size
// mean nothing; what is checked is that every workload ran to the end and holdpush lost nothing.
test('npm run bench -- --smoke runs W1-W6 against holdpush and the bare server, and holdpush loses nothing', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'holdpush-bench-'));
  try {
    const json = join(dir, 'smoke.json');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [join(root, 'scripts', 'bench.js'), '--smoke', '--targets', 'holdpush,baseline', '--json', json], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
        resolve({ code: error === null ? 0 : (child.exitCode ?? null), stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /holdpush bench, smoke profile/);
    const results = JSON.parse(readFileSync(json, 'utf8')) as { profile: string; targets: string[]; workloads: Record<string, Row[]> };
    assert.equal(results.profile, 'smoke');
    assert.deepEqual(results.targets, ['holdpush', 'baseline']);
    assert.deepEqual(Object.keys(results.workloads), ['W1', 'W2', 'W3', 'W4', 'W5', 'W6']);
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
    for (const row of results.workloads.W3 as Row[]) assert.ok((figures(row, 'holdpush').totalDeliveriesPerSec ?? 0) > 0, row.label);
    const [single, workers] = results.workloads.W5 as Row[];
    assert.equal(figures(single as Row, 'holdpush').opened, 150);
    assert.equal(figures(workers as Row, 'holdpush').opened, 300, '--workers 2 holds twice a process');
    assert.equal(figures(workers as Row, 'baseline').na, 'the baseline is one process');
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

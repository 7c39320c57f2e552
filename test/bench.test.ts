import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  loadProcesses?: number;
  timedPublishes?: number;
  toLastP99Ms?: number;
  connectionsPerSec?: number;
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
test('npm run bench -- --smoke runs W1-W5, WT and WC against holdpush and the bare server, W1 and W3 against Socket.IO, and nothing is lost', { timeout: 240_000 }, async () => {
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
    assert.deepEqual(Object.keys(results.workloads), ['W1', 'W2', 'W3', 'W4', 'W5', 'WT', 'WC']);
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

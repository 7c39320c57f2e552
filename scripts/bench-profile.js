#!/usr/bin/env node
'use strict';
// Summarizes V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --cpu-prof DIR`): the
// functions with the most self time, and the same grouped by file.
//
//   node scripts/bench-profile.js DIR-or-FILE.cpuprofile [--top 25]
const fs = require('node:fs');
const path = require('node:path');

function files(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs
    .readdirSync(p)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(p, f));
}

function selfTimes(profile) {
  const byId = new Map();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map(); // node id -> microseconds
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const d = timeDeltas[i + 1] !== undefined ? timeDeltas[i + 1] : 0;
    self.set(samples[i], (self.get(samples[i]) || 0) + Math.max(0, d));
  }
  const fn = new Map();
  const file = new Map();
  const kind = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    const url = cf.url ? cf.url.replace(/^file:\/\//, '') : '';
    const short = url ? path.relative(process.cwd(), url) || url : '';
    const name = cf.functionName || '(anonymous)';
    const key = url ? `${name}  ${short}:${cf.lineNumber + 1}` : name;
    fn.set(key, (fn.get(key) || 0) + us);
    const fk = url ? short.replace(/^node:/, 'node:') : name.startsWith('(') ? name : '(native)';
    file.set(fk, (file.get(fk) || 0) + us);
    let k;
    if (name === '(idle)') k = 'idle';
    else if (name === '(garbage collector)') k = 'garbage collector';
    else if (url.startsWith('node:')) k = 'node internals (node:*)';
    else if (url) k = 'application and its modules';
    else k = 'native, syscalls, (program)';
    kind.set(k, (kind.get(k) || 0) + us);
    total += us;
  }
  return { fn, file, kind, total };
}

function main() {
  process.stdout.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) || 25 : 25;
  if (!args.length) {
    process.stderr.write('usage: node scripts/bench-profile.js DIR-or-FILE.cpuprofile [--top 25]\n');
    process.exit(2);
  }
  for (const f of args.flatMap(files)) {
    const { fn, file, kind, total } = selfTimes(JSON.parse(fs.readFileSync(f, 'utf8')));
    const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
    const busy = total - (kind.get('idle') || 0);
    process.stdout.write(`\n${f}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy\n`);
    process.stdout.write('  busy time by kind:\n');
    for (const [k, us] of [...kind].sort((a, b) => b[1] - a[1])) {
      if (k === 'idle') continue;
      process.stdout.write(`  ${((100 * us) / busy).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
    process.stdout.write('  self time by function:\n');
    for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`  ${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
    process.stdout.write('  self time by file:\n');
    for (const [k, us] of [...file].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
      process.stdout.write(`  ${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
  }
}

main();

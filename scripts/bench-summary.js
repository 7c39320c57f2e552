#!/usr/bin/env node
'use strict';
// The performance targets over several runs of `npm run bench`: on a shared machine one run's
// ratio can land either side of a target, so each target is shown with every run's value, the
// median and how many runs met it. `npm run bench -- --repeat N` ends with this; it also reads
// result files given by hand:
//
//   node scripts/bench-summary.js bench-results/a.json bench-results/b.json ...
const fs = require('node:fs');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function show(value, need) {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2) + (/x$/.test(String(need)) ? 'x' : '');
}

/** Lines judging each target over the runs in `files` (result JSONs of scripts/bench.js). */
function summarize(files) {
  const runs = files.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
  const byTarget = new Map();
  for (const run of runs) {
    for (const check of run.checks || []) {
      if (!byTarget.has(check.target)) byTarget.set(check.target, []);
      byTarget.get(check.target).push(check);
    }
  }
  const out = [`performance targets over ${runs.length} runs (${runs.map((r) => r.date).join(', ')}):`];
  for (const [target, list] of byTarget) {
    const met = list.filter((c) => c.ok).length;
    const numbers = list.map((c) => c.value).filter((v) => typeof v === 'number');
    const mid = numbers.length === list.length ? ` median ${show(median(numbers), list[0].need)};` : '';
    const all = list.map((c) => show(c.value, c.need)).join(', ');
    const note = list[0].note ? ` - ${list[0].note}` : '';
    const info = list[0].ok == null; // a figure shown beside the targets, with none of its own
    const tally = info ? 'info' : `met in ${met} of ${list.length}`;
    out.push(`  [${tally}] ${target}:${mid} runs ${all}${info ? '' : ` (need ${list[0].need})`}${note}`);
  }
  return out.join('\n');
}

module.exports = { summarize };

if (require.main === module) {
  const files = process.argv.slice(2);
  if (!files.length) {
    process.stderr.write('usage: node scripts/bench-summary.js RESULT.json [RESULT.json ...]\n');
    process.exit(2);
  }
  process.stdout.write(summarize(files) + '\n');
}

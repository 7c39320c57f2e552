#!/usr/bin/env node
// Runs before `npm start` and `npm test`: on a fresh clone it installs the dev tools and builds
// dist/, so those two commands are the whole set-up. It does nothing when all is in place.
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, statSync, readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const run = (command) => execSync(command, { cwd: root, stdio: 'inherit' });

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

if (!existsSync(join(root, 'node_modules', '.bin', 'tsc'))) {
  console.error('holdpush: installing the dev tools (npm install), once');
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');
}
// What the build makes, and what it is made from: a change to lib/, client/ or the build settings
// rebuilds. In an installed package the sources are absent and nothing is rebuilt.
const outputs = [join(root, 'dist', 'cli', 'main.js'), join(root, 'public', 'holdpush.js')];
const sources = [join(root, 'lib'), join(root, 'client'), join(root, 'tsconfig.build.json')].filter((path) => existsSync(path));
const newestSource = Math.max(0, ...sources.map((path) => (statSync(path).isDirectory() ? newest(path) : statSync(path).mtimeMs)));
if (sources.length > 0 && outputs.some((path) => !existsSync(path) || statSync(path).mtimeMs < newestSource)) {
  console.error('holdpush: building dist/ and the client (npm run build)');
  run('npm run build');
}

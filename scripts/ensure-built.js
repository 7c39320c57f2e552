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
const built = join(root, 'dist', 'cli', 'main.js');
// A change to the build settings (tsconfig.build.json) rebuilds too, like a change to lib/.
const buildConfig = join(root, 'tsconfig.build.json');
const sources = Math.max(newest(join(root, 'lib')), existsSync(buildConfig) ? statSync(buildConfig).mtimeMs : 0);
if (!existsSync(built) || statSync(built).mtimeMs < sources) {
  console.error('holdpush: building dist/ (npm run build)');
  run('npm run build');
}

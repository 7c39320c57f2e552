#!/usr/bin/env node
// Runs before `npm test`: the tests drive the real programs users run beside holdpush (Debian's
// redis-server, Chromium and nginx; valgrind for the instruction counts of the bench). Where one is missing it installs it with apt-get, saying so
// in one line; where it cannot, it stops before the tests with the exact command to run, so no
// suite ever skips for want of a binary.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { existsSync, writeFileSync, rmSync } = require('node:fs');

/** What the tests need: where Debian puts each program, and the package that brings it. */
const TOOLS = [
  { name: 'redis-server', paths: [process.env.REDIS_SERVER || '/usr/bin/redis-server'], pkg: 'redis-server' },
  { name: 'chromium', paths: [process.env.HOLDPUSH_CHROMIUM || '/usr/bin/chromium'], pkg: 'chromium' },
  { name: 'nginx', paths: [process.env.HOLDPUSH_NGINX || '/usr/sbin/nginx'], pkg: 'nginx-light' },
  { name: 'valgrind', paths: ['/usr/bin/valgrind'], pkg: 'valgrind' },
];

const missing = TOOLS.filter((tool) => !tool.paths.some((path) => existsSync(path)));
if (missing.length === 0) process.exit(0);

const packages = missing.map((tool) => tool.pkg);
const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (!isRoot || !hasApt) {
  console.error(`holdpush: the tests need ${missing.map((t) => t.name).join(', ')}; install ${packages.length > 1 ? 'them' : 'it'} first:`);
  console.error(`  ${isRoot ? '' : 'sudo '}${command}`);
  process.exit(1);
}

console.error(`holdpush: installing ${packages.join(', ')} for the tests (apt-get, once)`);
// The tests run their own redis-server and nginx on free ports; the packages' system services
// must not start (nginx would take port 80). policy-rc.d is Debian's switch for that, kept only
// for the length of the install and only when the machine has none of its own.
const policy = '/usr/sbin/policy-rc.d';
const ownPolicy = !existsSync(policy);
if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const quiet = { env, stdio: ['ignore', 'ignore', 'inherit'] };
  execFileSync('apt-get', ['update', '-qq'], quiet);
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], quiet);
} catch (error) {
  console.error(`holdpush: apt-get failed (${error.message.split('\n')[0]}); run it by hand:\n  ${command}`);
  process.exit(1);
} finally {
  if (ownPolicy) rmSync(policy, { force: true });
}

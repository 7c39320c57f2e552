#!/usr/bin/env node
// Builds the browser and Node client in public/ from its TypeScript source in client/:
//   holdpush.js    a classic <script> (the global `Holdpush`) that is also the CommonJS module
//   holdpush.mjs   the ES module (`import { subscribe } from 'holdpush/client'`)
//   holdpush.d.ts  its types for require() and the global; holdpush.d.mts for import
// `npm run build` runs it (so `npm start`, `npm test` and `npm pack` have them); the files are not
// committed, being made from client/. test/client-module.test.ts fails when they are out of date.
//   node scripts/build-client.js           writes them
//   node scripts/build-client.js --check   exits 1 when one is out of date
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const esbuild = require('esbuild');

const root = join(__dirname, '..');
const entry = join(root, 'client', 'index.ts');
const types = join(root, 'client', 'types.ts');
const out = join(root, 'public');

/** The values index.ts exports, with their declared types: the build fails if the two lists differ. */
const VALUES = {
  subscribe: { type: 'Subscribe', doc: 'Subscribes to channels (or a uid) and calls `onMessage` for every message, in publish order.' },
  version: { type: 'string', doc: "The client's version (its API, not the package's)." },
};

const BANNER = '/*! holdpush client. MIT. Built by scripts/build-client.js from client/*.ts: edit those, not this file. */';

function bundle(format) {
  const result = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format,
    globalName: format === 'iife' ? 'Holdpush' : undefined,
    platform: 'neutral',
    target: 'es2019',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const [file] = result.outputFiles;
  const [meta] = Object.values(result.metafile.outputs);
  return { text: file.text, exports: meta.exports };
}

function declarations(withGlobal) {
  const source = readFileSync(types, 'utf8');
  const values = Object.entries(VALUES).map(([name, { type, doc }]) => `/** ${doc} */\nexport declare const ${name}: ${type};\n`);
  const global = withGlobal ? '\n/** A plain <script src="holdpush.js"> defines the global `Holdpush`. */\nexport as namespace Holdpush;\n' : '';
  return `${BANNER}\n${source}\n${values.join('\n')}${global}`;
}

/** The files to write, by path from the project root. */
function buildClient() {
  const esm = bundle('esm');
  const names = Object.keys(VALUES).sort().join(',');
  if (esm.exports.slice().sort().join(',') !== names) {
    throw new Error(`client/index.ts exports ${esm.exports.join(', ')}, but scripts/build-client.js declares ${names}: update VALUES`);
  }
  const classic = bundle('iife');
  const commonjs = "if (typeof module === 'object' && module && module.exports) module.exports = Holdpush;\n";
  const files = {
    'holdpush.js': `${BANNER}\n${classic.text}${commonjs}`,
    'holdpush.mjs': `${BANNER}\n${esm.text}`,
    'holdpush.d.ts': declarations(true),
    'holdpush.d.mts': declarations(false),
  };
  const byPath = {};
  for (const [name, text] of Object.entries(files)) byPath[relative(root, join(out, name)).split('\\').join('/')] = text;
  return byPath;
}

function main() {
  const check = process.argv.includes('--check');
  const stale = [];
  for (const [path, text] of Object.entries(buildClient())) {
    const full = join(root, path);
    let current = null;
    try {
      current = readFileSync(full, 'utf8');
    } catch {
      // missing: stale
    }
    if (current === text) continue;
    stale.push(path);
    if (!check) writeFileSync(full, text);
  }
  if (check && stale.length > 0) {
    console.error(`out of date (run npm run build:client): ${stale.join(', ')}`);
    process.exit(1);
  }
  if (!check) console.log(stale.length ? `wrote ${stale.join(', ')}` : 'client files up to date');
}

module.exports = { buildClient };
if (require.main === module) main();

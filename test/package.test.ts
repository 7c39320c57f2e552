// The package as a user gets it: `npm pack`, installed into an empty app, used the ways the
// README says (the command, require and import, the client module, an example, a TypeScript consumer).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from './support/http';
import { builtPath } from './support/servers';
import { waitFor } from './support/wait';

const ROOT = join(__dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the packed package, installed into an empty app', { timeout: 120_000 }, () => {
  let app = '';
  let installed = '';
  const node = (args: readonly string[]) => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8', timeout: 20_000 });

  before(() => {
    builtPath('dist/index.js'); // rebuilds dist/ when lib/ is newer, as npm's prepare would
    app = mkdtempSync(join(tmpdir(), 'holdpush-app-'));
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', app], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }),
    ) as Array<{ filename: string }>;
    const tarball = join(app, (packed[0] as { filename: string }).filename);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'empty-app', version: '1.0.0', private: true }));
    // holdpush has no dependencies, so the install needs nothing but the tarball.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    installed = join(app, 'node_modules', 'holdpush');
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  test('`holdpush --version` and `--help` work from node_modules/.bin', () => {
    const bin = join(app, 'node_modules', '.bin', 'holdpush');
    assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }), `${VERSION}\n`);
    const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
    assert.match(help, /--hold-timeout /);
    assert.match(help, /--trust-proxy /);
  });

  test('require and import give the same API; the client loads both ways too', () => {
    const cjs = node(['-e', "const h = require('holdpush'); const c = require('holdpush/client'); console.log(typeof h.createHoldpush, typeof c.subscribe)"]);
    assert.equal(cjs.trim(), 'function function');
    const esm = node(['--input-type=module', '-e', "import { createHoldpush } from 'holdpush'; import { subscribe } from 'holdpush/client'; console.log(typeof createHoldpush, typeof subscribe)"]);
    assert.equal(esm.trim(), 'function function');
  });

  test('an example runs from the installed package and serves holdpush under /push', async () => {
    const child = spawn(process.execPath, [join(installed, 'examples', 'http.js')], {
      cwd: app,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => /listening on (http:\/\/\S+)/.test(output), 10_000, 'the example to listen');
      const url = (/listening on (http:\/\/\S+)/.exec(output) as RegExpExecArray)[1] as string;
      const health = await request(`${url}/push/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.body.toString(), 'ok');
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('a TypeScript consumer type-checks against the shipped declarations, and a wrong call does not', () => {
    writeFileSync(
      join(app, 'consumer.mts'),
      [
        "import { createHoldpush, type Holdpush } from 'holdpush';",
        "import { subscribe } from 'holdpush/client';",
        'const push: Holdpush = createHoldpush({ holdTimeout: 5, prefix: "/push" });',
        'void push.publish("news", "hello");',
        'void subscribe;',
        '// @ts-expect-error holdTimeout is a number',
        'createHoldpush({ holdTimeout: "5" });',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], skipLibCheck: false },
        files: ['consumer.mts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    assert.doesNotThrow(() => execFileSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8', timeout: 60_000 }));
  });

  test('the package carries its docs, examples and changelog, and no test or source file', () => {
    const list = execFileSync('find', ['.', '-type', 'f'], { cwd: installed, encoding: 'utf8' }).split('\n');
    for (const needed of ['./docs/protocol.md', './docs/deploying.md', './docs/client.md', './CHANGELOG.md', './README.md', './LICENSE', './examples/http.js']) {
      assert.ok(list.includes(needed), `${needed} is in the package`);
    }
    assert.equal(list.filter((file) => file.startsWith('./test/') || file.startsWith('./lib/')).length, 0);
  });
});

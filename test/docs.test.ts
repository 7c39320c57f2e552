/**
 * The project's documents stand on their own: every link in the README, the changelog and
 * docs/ is relative and resolves to a file of the repository that the npm package ships too
 * (and, for `#anchors`, to a heading of its target); nothing points outside the project.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { githubSlug, headingAnchors, markdownLinks, urlsIn } from './support/markdown';

const ROOT = join(__dirname, '..');
const T = { timeout: 15_000 };

/** Names of the workspace's internal contract, which users never see (built, so this file passes its own scan). */
const FORBIDDEN = ['..' + '/shared', 'PROTOCOL' + '.md'];

/** Hosts an absolute link may name: this machine, and the domains reserved for examples. */
const ALLOWED_HOST = /^(?:127\.0\.0\.1|localhost|\[::1\]|(?:[a-z0-9-]+\.)*example\.(?:com|net|org))(?::\d*)?$/i;

/** Files of the repository as a fresh clone has them: tracked or new, not ignored; '/'-separated. */
function repositoryFiles(): Set<string> {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  return new Set(out.split('\0').filter((path) => path !== '' && existsSync(join(ROOT, path))));
}

/** Files `npm pack` would put in the package (no tarball written, no scripts run). */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  assert.ok(pack !== undefined, 'npm pack --dry-run --json gave no package');
  return new Set(pack.files.map((file) => file.path));
}

/** The documents whose links users follow, as paths from the root. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', 'CHANGELOG.md', ...docs];
}

/** Whether `path` (from the root) is a file of `files`, or a folder holding some. */
function holds(files: ReadonlySet<string>, path: string): boolean {
  if (files.has(path)) return true;
  const folder = path.endsWith('/') ? path : `${path}/`;
  for (const file of files) if (file.startsWith(folder)) return true;
  return false;
}

interface Resolved {
  /** The target file or folder from the root, '/'-separated; '' when it leaves the repository. */
  readonly path: string;
  readonly anchor: string | undefined;
}

function resolveLink(document: string, target: string): Resolved {
  const hash = target.indexOf('#');
  const pathPart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  if (pathPart === '') return { path: document, anchor };
  const absolute = join(ROOT, dirname(document), decodeURIComponent(pathPart));
  const path = relative(ROOT, absolute).split(sep).join('/');
  return { path: path.startsWith('..') || path === '' ? '' : path, anchor };
}

describe('the documents (README, CHANGELOG, docs/)', () => {
  const repository = repositoryFiles();
  const docs = documents();

  test('docs/protocol.md and the changelog exist and are documents of the repository', () => {
    assert.ok(docs.includes('docs/protocol.md'));
    for (const document of docs) assert.ok(repository.has(document), `${document} is not in the repository`);
  });

  test('every link is relative and resolves inside the repository, anchors to a heading of the target', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const document of docs) {
      for (const { target, line } of markdownLinks(readFileSync(join(ROOT, document), 'utf8'))) {
        const where = `${document}:${line} ${target}`;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
          const host = /^https?:\/\/([^/?#]+)/i.exec(target)?.[1];
          if (host === undefined || !ALLOWED_HOST.test(host)) problems.push(`${where}: an absolute link outside this machine`);
          continue;
        }
        if (target.startsWith('/')) {
          problems.push(`${where}: starts at a root that differs on GitHub, npm and disk; make it relative`);
          continue;
        }
        checked += 1;
        const { path, anchor } = resolveLink(document, target);
        if (path === '' || !holds(repository, path)) {
          problems.push(`${where}: no such file in the repository`);
          continue;
        }
        if (anchor !== undefined && path.endsWith('.md') && !headingAnchors(readFileSync(join(ROOT, path), 'utf8')).has(anchor)) {
          problems.push(`${where}: ${path} has no heading #${anchor}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked >= 5, `only ${checked} relative links found: is the link reader broken?`);
  });

  test('the package ships every document and every file they link', T, () => {
    const packed = packedFiles();
    const missing: string[] = [];
    for (const document of docs) {
      if (!packed.has(document)) missing.push(`${document} itself`);
      for (const { target, line } of markdownLinks(readFileSync(join(ROOT, document), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue;
        const { path } = resolveLink(document, target);
        if (path !== '' && !holds(packed, path)) missing.push(`${document}:${line} ${target}`);
      }
    }
    assert.deepEqual(missing, [], 'add these to package.json "files"');
  });

  test('no URL in the documents or package.json names a host outside this machine (the project has no public home)', () => {
    const problems: string[] = [];
    for (const file of [...docs, 'package.json']) {
      for (const url of urlsIn(readFileSync(join(ROOT, file), 'utf8'))) {
        const host = /^https?:\/\/([^/?#]+)/i.exec(url)?.[1] ?? '';
        if (!ALLOWED_HOST.test(host)) problems.push(`${file}: ${url}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('nothing in the repository points at the workspace\'s internal contract; docs/protocol.md instead', () => {
    const problems: string[] = [];
    for (const file of repository) {
      if (file === 'package-lock.json' || !/\.(?:ts|js|mjs|cjs|json|md|html|css|sh|txt)$|^\.ci\//.test(file)) continue;
      if (!statSync(join(ROOT, file)).isFile()) continue;
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const needle of FORBIDDEN) if (text.includes(needle)) problems.push(`${file}: ${needle}`);
    }
    assert.deepEqual(problems, []);
  });
});

describe('the link reader', () => {
  test('links in code blocks and code spans are text; other links are found with their lines', () => {
    const text = [
      '# Title',
      '',
      'See [the protocol](docs/protocol.md#errors-and-limits) and <http://127.0.0.1:8888/>.',
      '',
      '```sh',
      'curl [not](a-link.md)',
      '```',
      '',
      'A span `[not](a-link-either.md)` and an ![image](public/favicon.ico "icon").',
      '',
      '[ref]: CHANGELOG.md',
    ].join('\n');
    assert.deepEqual(markdownLinks(text), [
      { target: 'docs/protocol.md#errors-and-limits', line: 3 },
      { target: 'http://127.0.0.1:8888/', line: 3 },
      { target: 'public/favicon.ico', line: 9 },
      { target: 'CHANGELOG.md', line: 11 },
    ]);
  });

  test('headings get GitHub\'s anchors', () => {
    assert.equal(githubSlug("holdpush's choices"), 'holdpushs-choices');
    assert.equal(githubSlug('The demo face: `/?uid=` and `/send`'), 'the-demo-face-uid-and-send');
    assert.equal(githubSlug('Operations: `/healthz`, `/stats`, `/metrics`'), 'operations-healthz-stats-metrics');
    assert.equal(githubSlug('One process, `--workers` or `--redis`'), 'one-process---workers-or---redis');
    assert.deepEqual([...headingAnchors('# A\n\n## A\n\n```\n# not a heading\n```\n## B ##\n')], ['a', 'a-1', 'b']);
  });

  test('every absolute URL is found, in code too', () => {
    assert.deepEqual(urlsIn('`proxy_pass http://127.0.0.1:8888/;` and (https://example.com/x).'), ['http://127.0.0.1:8888/;', 'https://example.com/x']);
  });
});

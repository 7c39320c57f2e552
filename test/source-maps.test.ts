/**
 * The package ships dist/ with source maps: each map must resolve inside the package (its
 * sources inlined, or files the package's `files` list ships), or a debugger and
 * `node --enable-source-maps` point at files that are not there.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

interface SourceMap {
  sources: string[];
  sourceRoot?: string;
  sourcesContent?: (string | null)[];
}

function shipped(path: string): boolean {
  const files = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
  const inPackage = relative(ROOT, path).split('\\').join('/');
  return existsSync(path) && files.some((entry) => (entry.endsWith('/') ? inPackage.startsWith(entry) : inPackage === entry));
}

test('every script in dist/ that names a source map ships it, and the map carries or ships its sources', () => {
  const scripts = readdirSync(DIST).filter((name) => name.endsWith('.js'));
  assert.ok(scripts.includes('index.js') && scripts.includes('server.js'), 'dist/ is built');
  let maps = 0;
  for (const script of scripts) {
    const link = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(DIST, script), 'utf8'))?.[1];
    if (link === undefined) continue;
    const mapPath = join(DIST, link);
    assert.ok(shipped(mapPath), `${script} names ${link}, which is not shipped`);
    const map = JSON.parse(readFileSync(mapPath, 'utf8')) as SourceMap;
    map.sources.forEach((source, i) => {
      const content = map.sourcesContent?.[i];
      const resolved = join(dirname(mapPath), map.sourceRoot ?? '', source);
      assert.ok((typeof content === 'string' && content.length > 0) || shipped(resolved), `${link}: source ${source} is neither inlined nor shipped`);
    });
    maps += 1;
  }
  assert.equal(maps, scripts.length, 'every script has its map');
});

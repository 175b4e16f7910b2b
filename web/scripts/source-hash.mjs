// The hash of everything the web build is made from. `vite build` writes it to
// dist/build-info.json; the server's test (crates/server/src/ui.rs) computes the same hash from
// the sources and fails when the committed dist/ was built from other sources.
//
// Inputs: the files listed in SOURCES (recursively, minus EXCLUDED), relative to the repository
// root, sorted by path; each contributes `path \n length \n bytes \n` to one SHA-256. The
// generated protocol types are left out: they are types only, erased from the build, and
// regenerating them must not make the committed UI look stale.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Keep in sync with `SOURCES` in crates/server/src/ui.rs. */
export const SOURCES = [
  'web/index.html',
  'web/package.json',
  'web/package-lock.json',
  'web/tsconfig.json',
  'web/vite.config.ts',
  'web/public',
  'web/src',
  'packages/react/package.json',
  'packages/react/src',
];

/** Keep in sync with `EXCLUDED` in crates/server/src/ui.rs. */
export const EXCLUDED = ['packages/react/src/generated'];

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function collect(path, out) {
  const absolute = join(repoRoot, path);
  if (!existsSync(absolute) || EXCLUDED.includes(path.split(sep).join('/'))) return;
  if (statSync(absolute).isDirectory()) {
    for (const name of readdirSync(absolute)) collect(join(path, name), out);
  } else {
    out.push(path.split(sep).join('/'));
  }
}

export function sourceFiles() {
  const files = [];
  for (const source of SOURCES) collect(source, files);
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function sourceHash() {
  const hash = createHash('sha256');
  for (const file of sourceFiles()) {
    const bytes = readFileSync(join(repoRoot, file));
    hash.update(`${file}\n${bytes.length}\n`);
    hash.update(bytes);
    hash.update('\n');
  }
  return hash.digest('hex');
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === '') {
  process.stdout.write(`${sourceHash()}\n`);
}

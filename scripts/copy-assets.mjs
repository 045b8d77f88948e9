#!/usr/bin/env node
// Second half of `npm run build`: tsc emits only JavaScript, so copy the non-TypeScript
// assets the compiled code reads at run time (every src/**/*.lua, loaded by
// src/infra/redis/scripts.ts from ./lua next to itself; the operator console's templates
// (*.eta), stylesheet (*.css) and browser script (*.browser.js, never compiled by tsc) read by
// src/api/console/) to the same relative path under dist/.
// Mirrors tsconfig.build.json (rootDir src, outDir dist). Stale copies of deleted assets are
// removed, so dist/ never loads a script that no longer exists in src/.
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const outDir = join(root, 'dist');
const ASSET = /\.(lua|eta|css)$|\.browser\.js$/;

/** Every file under dir whose name matches pattern, as paths relative to dir. */
function find(dir, pattern, base = dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return entries.flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return find(full, pattern, base);
    return entry.isFile() && pattern.test(entry.name) ? [relative(base, full)] : [];
  });
}

if (!statSync(outDir, { throwIfNoEntry: false })?.isDirectory()) {
  console.error(`copy-assets: ${relative(root, outDir)}/ does not exist; run tsc -p tsconfig.build.json first`);
  process.exit(1);
}

const assets = find(srcDir, ASSET);
const wanted = new Set(assets);
for (const stale of find(outDir, ASSET).filter((file) => !wanted.has(file))) {
  rmSync(join(outDir, stale));
}
for (const file of assets) {
  const target = join(outDir, file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(srcDir, file), target);
}
console.log(`copy-assets: copied ${assets.length} file(s) from src/ to dist/`);

#!/usr/bin/env node
// `npm test`: every *.test.ts in the workspaces and test/, run by Node's built-in test runner
// on the TypeScript sources (tsx, with the `sealkeep-source` export condition).
// Arguments are substrings that select test files: `npm test -- store tpm/wire`.

import { readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const roots = ['packages', 'services', 'migrations', 'test'];

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.test.ts')) yield p;
  }
}

const filters = process.argv.slice(2);
const files = roots
  .flatMap((r) => [...walk(path.join(root, r))])
  .map((f) => path.relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const backend = process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'embedded PGlite';
console.log(`# ${files.length} test files, store back end: ${backend}`);
const result = spawnSync(
  process.execPath,
  ['--conditions=sealkeep-source', '--import', 'tsx', '--test', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);

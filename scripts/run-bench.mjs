#!/usr/bin/env node
// `npm run bench`: every benchmark (`bench/*.bench.ts` in a workspace), one after another, each
// printing its own figures beside a reference measured in the same run. Not tests: nothing here
// passes or fails on speed. Arguments select benchmarks by substring: `npm run bench -- tpm`.

import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const files = [];
for (const group of ['packages', 'services']) {
  for (const ws of readdirSync(path.join(root, group))) {
    const dir = path.join(root, group, ws, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.bench.ts')) files.push(path.join(dir, f));
  }
}
const filters = process.argv.slice(2);
const selected = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (selected.length === 0) {
  console.error('no benchmark matched');
  process.exit(1);
}
let failed = 0;
for (const f of selected) {
  console.log(`\n=== ${path.relative(root, f)}`);
  const r = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', f], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

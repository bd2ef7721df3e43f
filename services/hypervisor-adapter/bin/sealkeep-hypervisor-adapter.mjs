#!/usr/bin/env node
// Launcher. In a checkout (tsx installed) it runs the TypeScript sources with the workspace's
// `sealkeep-source` export condition, so it never runs a stale build; where tsx is absent (a
// production install) it runs the build in dist/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let haveTsx = false;
try {
  createRequire(import.meta.url).resolve('tsx');
  haveTsx = true;
} catch {}

if (haveTsx && existsSync(source)) {
  const r = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} else {
  await import(pathToFileURL(fileURLToPath(new URL('../dist/main.js', import.meta.url))).href);
}

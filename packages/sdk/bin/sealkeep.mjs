#!/usr/bin/env node
// Launcher: the built CLI when present (dist/), else the TypeScript sources through tsx with the
// workspace's `sealkeep-source` export condition (a fresh checkout before `npm run build`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (existsSync(built)) {
  const cli = await import(pathToFileURL(built).href);
  process.exitCode = await cli.main();
} else {
  const source = fileURLToPath(new URL('../src/cli/bin.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}

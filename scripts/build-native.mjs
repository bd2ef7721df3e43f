#!/usr/bin/env node
// Build the optional native addon (packages/tpm/native: TCP_QUICKACK for the mssim server) with
// the node-gyp bundled in npm. Optional: on failure it says so and the server runs without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const npmDir = path.dirname(path.dirname(process.execPath));
const candidates = [
  path.join(npmDir, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'),
];
const gyp = candidates.find((p) => existsSync(p));
if (!gyp || process.platform !== 'linux') {
  console.log('native addon: skipped (no node-gyp or not Linux); the mssim server runs without TCP_QUICKACK');
  process.exit(0);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--loglevel=error'], { cwd: path.join(root, 'packages/tpm/native'), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  console.log(`native addon: build failed, continuing without TCP_QUICKACK\n${(r.stderr || '').split('\n').slice(-5).join('\n')}`);
} else {
  console.log('native addon: built packages/tpm/native/build/Release/sealkeep_net.node');
}

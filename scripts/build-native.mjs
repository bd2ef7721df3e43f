#!/usr/bin/env node
// Build the optional native addons with the node-gyp bundled in npm, against the headers of the
// node that runs this script (its own include/node when installed, so no download is needed).
// Optional: an addon that fails to build is reported in one line, and its package runs without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const addons = [
  { dir: 'packages/tpm/native', file: 'sealkeep_net.node', without: 'the mssim server runs without TCP_QUICKACK' },
  { dir: 'packages/crypto/native', file: 'sealkeep_block.node', without: 'block crypto uses the pure-Node path' },
];

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const nodePrefix = path.dirname(path.dirname(process.execPath));
const candidates = [
  path.join(nodePrefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  path.join(root, 'node_modules/node-gyp/bin/node-gyp.js'),
];
const gyp = candidates.find((p) => existsSync(p));
const ownHeaders = existsSync(path.join(nodePrefix, 'include/node/node_api.h'));
const nodedir = !process.env.npm_config_nodedir && ownHeaders ? [`--nodedir=${nodePrefix}`] : [];

for (const { dir, file, without } of addons) {
  if (!gyp || process.platform !== 'linux') {
    console.log(`native addon ${dir}: skipped (no node-gyp or not Linux); ${without}`);
    continue;
  }
  const args = [gyp, 'rebuild', '--loglevel=error', ...nodedir];
  const r = spawnSync(process.execPath, args, { cwd: path.join(root, dir), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    const cause = (r.stderr || '').split('\n').find((line) => /\berror:|Error:/.test(line))?.trim() ?? `node-gyp exit status ${r.status}`;
    console.log(`native addon ${dir}: build failed (${cause}); ${without}`);
  } else {
    console.log(`native addon: built ${dir}/build/Release/${file}`);
  }
}

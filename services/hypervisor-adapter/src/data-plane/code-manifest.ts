// What the host's measured launch records as the hypervisor (the MLE, PCR 18): a manifest of the
// code the adapter runs — one `sha256  path` line per source or built file of the adapter and of
// the workspaces it loads (the SDK, block crypto, TPM), sorted; tests, fixtures, benchmarks and
// scratch files left out. The cloud-admin approves its SHA-256 for the host (`host-init` prints
// it); any change to that code is a new digest, and the host's attestation fails until it is
// approved.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKSPACES = ['@sealkeep/sdk', '@sealkeep/crypto', '@sealkeep/tpm'];
const CODE = /\.(?:ts|js|mjs)$/;
const LEFT_OUT = /\.(?:test|fixture|bench|scratch)\.(?:ts|js)$|\.d\.ts$/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'demo' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (CODE.test(name) && !LEFT_OUT.test(name)) yield p;
  }
}

/** The manifest text (the launch's MLE image). */
export function adapterCodeManifest(): Buffer {
  // src/ when run from source, dist/ when built: whichever tree this module is in.
  const ownTree = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const trees: Array<[string, string]> = [['@sealkeep/hypervisor-adapter', ownTree]];
  for (const name of WORKSPACES) trees.push([name, path.dirname(fileURLToPath(import.meta.resolve(name)))]);
  const lines: string[] = [];
  for (const [name, tree] of trees) {
    const root = path.dirname(tree);
    for (const f of [path.join(root, 'package.json'), ...files(tree)]) {
      lines.push(`${createHash('sha256').update(readFileSync(f)).digest('hex')}  ${name}/${path.relative(root, f)}`);
    }
  }
  return Buffer.from(lines.join('\n') + '\n');
}

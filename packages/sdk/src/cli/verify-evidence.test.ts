// `sealkeep verify evidence` is the attestation package's offline verifier under the CLI's name:
// a good bundle with its nonce exits 0 under --root; a wrong nonce exits 1 naming the finding.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evidenceFixture } from '../../../attestation/src/evidence/evidence.fixture.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sealkeep.mjs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-verify-evidence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('sealkeep verify evidence BUNDLE --root ROOT [--nonce]: 0 when good, 1 with the finding when not', { timeout: 120_000 }, async () => {
  const fx = await evidenceFixture();
  const bundle = path.join(dir, 'bundle.json');
  writeFileSync(bundle, JSON.stringify(await fx.bundle(Buffer.from('c0ffee', 'hex'))));
  const roots = fx.trustedRoots.flatMap((pem, i) => {
    const f = path.join(dir, `root-${i}.pem`);
    writeFileSync(f, pem);
    return ['--root', f];
  });
  const ok = spawnSync(process.execPath, [cli, 'verify', 'evidence', bundle, ...roots, '--nonce', 'c0ffee'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^evidence OK: host host-07/m);
  const replayed = spawnSync(process.execPath, [cli, 'verify', 'evidence', bundle, ...roots, '--nonce', 'beef'], { encoding: 'utf8' });
  assert.equal(replayed.status, 1);
  assert.match(replayed.stdout, /quote-nonce-mismatch/);
});

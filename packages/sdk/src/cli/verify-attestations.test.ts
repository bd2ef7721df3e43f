// `sealkeep verify volume-attestation` and `sealkeep verify vm-evidence` as functions of their
// arguments (main.ts dispatches to them): exit 0 with the report's OK line for good input, 1 with
// the finding for tampered input, 2 for usage errors; --json prints the result object.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statementSigner, type StatementSigner } from '../../../attestation/src/statement/signer.fixture.js';
import { volumeAttestation } from '../../../attestation/src/volume/volume.fixture.js';
import { vmEvidenceFixture } from '../../../attestation/src/vm/vm-evidence.fixture.js';
import { volumeVerifyMain } from './verify-volume.js';
import { vmEvidenceVerifyMain } from './verify-vm-evidence.js';
import type { VerifyIo } from './verify-files.js';

let dir: string;
let signer: StatementSigner;
let root: string;
const file = (name: string, data: string | Buffer) => (writeFileSync(path.join(dir, name), data), path.join(dir, name));
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-verify-attestations-'));
  signer = await statementSigner();
  root = file('manufacturer.pem', signer.trustedRoots[0]!);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(main: (argv: string[], io: VerifyIo) => Promise<number>, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { status, stdout, stderr };
}

test('sealkeep verify volume-attestation FILE --root R [--tags T] [--json]', async () => {
  const { attestation, tags } = await volumeAttestation(signer, { sectors: 16 });
  const good = file('attestation.json', JSON.stringify(attestation));
  const tagFile = file('tags.bin', tags);
  const ok = await run(volumeVerifyMain, good, '--root', root, '--tags', tagFile);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, new RegExp(`^volume attestation OK: volume ${attestation.volumeId} of VM ${attestation.vmId}, boot ${attestation.bootId}: 16 sectors of 4096 bytes, .*; tags checked\\)\\n$`));

  const untagged = await run(volumeVerifyMain, good, '--root', root);
  assert.equal(untagged.status, 0);
  assert.match(untagged.stdout, /^INFO     tags-not-checked: /m);

  const bent = Buffer.from(tags);
  bent[0]! ^= 1;
  const changed = await run(volumeVerifyMain, good, '--root', root, '--tags', file('bent.bin', bent), '--json');
  assert.equal(changed.status, 1);
  const result = JSON.parse(changed.stdout);
  assert.equal(result.ok, false);
  assert.deepEqual(result.findings.map((f: { id: string }) => f.id), ['tags-merkle-root-mismatch']);

  const forged = await run(volumeVerifyMain, file('forged.json', JSON.stringify({ ...attestation, sectors: '17' })), '--trusted-root', root);
  assert.equal(forged.status, 1);
  assert.match(forged.stdout, /^ERROR    statement-field-mismatch: sectors: /m);
  assert.match(forged.stdout, /^volume attestation FAILED: 1 error: /m);

  assert.equal((await run(volumeVerifyMain, good)).status, 2, 'a root is required');
  assert.equal((await run(volumeVerifyMain, '--root', root)).status, 2, 'a file is required');
  assert.equal((await run(volumeVerifyMain, good, '--root', root, '--at', 'yesterday')).status, 2);
  const missing = await run(volumeVerifyMain, path.join(dir, 'absent.json'), '--root', root);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /ENOENT/);
});

test('sealkeep verify vm-evidence FILE --root R [--reference-values F] [--host-policy F] [--json]', async () => {
  const fx = await vmEvidenceFixture(signer);
  const good = file('vm-evidence.json', JSON.stringify(fx.bundle));
  const refs = file('refs.json', JSON.stringify(fx.referenceValues));
  const hostPolicy = file('host-policy.json', JSON.stringify(fx.hostPolicy));
  const strict = await run(vmEvidenceVerifyMain, good, '--root', root, '--reference-values', refs, '--host-policy', hostPolicy);
  assert.equal(strict.status, 0, strict.stdout + strict.stderr);
  assert.match(strict.stdout, new RegExp(`^VM evidence OK: VM ${fx.bundle.vmId} of tenant ${fx.bundle.tenantId}, boot ${fx.bundle.boot.bootId} .*reference values \\(yours\\) pin vPCR 1,8; .*host evidence OK\\)\\n$`));

  const trusting = await run(vmEvidenceVerifyMain, good, '--root', root);
  assert.equal(trusting.status, 0);
  assert.match(trusting.stdout, /^WARNING  reference-values-from-bundle: /m);
  assert.match(trusting.stdout, /^WARNING  host:policy-from-bundle: /m);

  const b = structuredClone(fx.bundle);
  b.boot.vpcrs.sha256['8'] = '00'.repeat(32);
  const tampered = await run(vmEvidenceVerifyMain, file('tampered.json', JSON.stringify(b)), '--root', root, '--json');
  assert.equal(tampered.status, 1);
  const result = JSON.parse(tampered.stdout);
  assert.deepEqual(result.findings.filter((f: { severity: string }) => f.severity === 'error').map((f: { id: string; message: string }) => `${f.id} ${f.message.split(':')[0]}`), ['statement-field-mismatch boot.vpcrs.sha256.8']);

  const replayed = await run(vmEvidenceVerifyMain, good, '--root', root, '--host-nonce', 'beef');
  assert.equal(replayed.status, 1);
  assert.match(replayed.stdout, /^ERROR    host:quote-nonce-mismatch: /m);

  assert.equal((await run(vmEvidenceVerifyMain, good)).status, 2);
  assert.equal((await run(vmEvidenceVerifyMain, good, '--root', root, '--host-nonce', 'xyz')).status, 2);
  const notJson = await run(vmEvidenceVerifyMain, good, '--root', root, '--reference-values', file('bad.json', '{'));
  assert.equal(notJson.status, 2);
  assert.match(notJson.stderr, /bad\.json: not JSON/);
});

// The host as an adapter sees it: an emulated TPM in a directory is certified once by its vendor's
// CA and keeps its identity across opens, one process at a time; an external TPM over mssim is certified with a given
// CA; either way the launch is measured and the evidence bundle verifies offline against the
// vendor's root with the challenge's nonce, and names the launch the cloud-admin approves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyEvidence, type EvidenceBundle } from '@sealkeep/attestation';
import { MssimServer, Tpm } from '@sealkeep/tpm';
import { launchDigests, manufactureHostTpm, openHostPlatform, openHostTpm } from './host-platform.js';

const MLE = Buffer.from('hypervisor build 1');
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

async function evidenceHolds(platform: Awaited<ReturnType<typeof openHostPlatform>>, root: string): Promise<EvidenceBundle> {
  const nonce = randomBytes(32);
  const bundle = await platform.evidence(nonce);
  const verdict = await verifyEvidence(bundle, { trustedRoots: [root], nonce });
  assert.deepEqual(verdict.findings.filter((f) => f.severity === 'error'), []);
  assert.equal(verdict.ok, true);
  const other = await verifyEvidence(bundle, { trustedRoots: [root], nonce: randomBytes(32) });
  assert.ok(other.findings.some((f) => f.id === 'quote-nonce-mismatch'));
  return bundle;
}

test('an emulated host TPM in a directory: certified once, the same EK at every open, evidence that verifies', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-host-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await openHostTpm(dir);
  const made = await manufactureHostTpm(first.client, first.dir);
  await first.close();
  assert.ok(made.manufacturerRootPem?.includes('BEGIN CERTIFICATE'));

  const platform = await openHostPlatform({ tpm: `in-process:${dir}`, hostName: 'host-07', mle: MLE });
  try {
    // One process at a time on the directory: a second opening is refused before it touches the state.
    await assert.rejects(openHostTpm(dir), /the host TPM in .* is in use by this process already: one process at a time/);
    const other = spawnSync(process.execPath, ['--conditions=sealkeep-source', '--import', 'tsx', '--input-type=module', '-e', `import { openHostTpm } from '@sealkeep/sdk'; await openHostTpm(${JSON.stringify(dir)});`], { encoding: 'utf8', cwd: REPO });
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, new RegExp(`in use by process ${process.pid}`));
    assert.deepEqual(platform.ekCertificate, made.ekCertificate, 'the same TPM, the same EK certificate');
    const bundle = await evidenceHolds(platform, readFileSync(path.join(dir, 'manufacturer-root.pem'), 'utf8'));
    const drtm = (bundle.eventLogs as { drtm: Array<{ pcr: number; content: { event_type: string }; digests: Array<{ hashAlg: string; digest: string }> }> }).drtm;
    const digest = (type: string) => drtm.find((r) => r.content.event_type === type)!.digests.find((d) => d.hashAlg === 'sha256')!.digest;
    const approved = launchDigests(MLE);
    assert.equal(digest('EVTYPE_HASH_START'), approved.sinitDigest);
    assert.equal(digest('EVTYPE_MLE_HASH'), approved.mleDigest);
  } finally {
    await platform.close();
  }
  const again = await openHostTpm(dir);
  await again.close();
  assert.equal(existsSync(path.join(dir, 'tpm.lock')), false, 'closed, the lock is gone');
});

test('an external host TPM over mssim, certified with a manufacturer CA kept elsewhere', async (t) => {
  const caDir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-vendor-'));
  const server = new MssimServer({ tpm: new Tpm(), port: 0, host: '127.0.0.1' });
  await server.listen();
  t.after(async () => {
    await server.close();
    rmSync(caDir, { recursive: true, force: true });
  });
  const url = `mssim://127.0.0.1:${server.commandPort}`;
  await assert.rejects(openHostPlatform({ tpm: url, hostName: 'host-08', mle: MLE, manufacturerDir: undefined }), /no manufacturer CA/);
  const platform = await openHostPlatform({ tpm: url, hostName: 'host-08', mle: MLE, manufacturerDir: caDir });
  try {
    await evidenceHolds(platform, readFileSync(path.join(caDir, 'manufacturer-root.pem'), 'utf8'));
  } finally {
    await platform.close();
  }
});

// The measured start, fail closed, against the in-process host TPM kept in a data directory
// (each start is a reboot: Startup(CLEAR), a fresh launch) and a real store, on both back ends:
// uninitialised before any operator; the root created under the first configuration; the same
// root after a restart; a changed configuration refused until the approver signs it; approvals
// by anyone else, or an approver swapped in the database, refused by the TPM itself.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { asSystem, type Store } from '@sealkeep/store';
import { freshStore } from '@sealkeep/store/testing';
import { signConfigurationApproval, verifyAuditLog, type ServiceDigests } from '@sealkeep/attestation';
import { insertPrincipal } from '../features/principals/store.js';
import { exportChain, PROVIDER_CHAIN } from '../audit/audit-log.js';
import { openHostTpm } from './host-tpm.js';
import { measuredStart, StartRefused } from './measured-start.js';

let store: Store;
let dataDir: string;
const approver = newKeyPair('ec', { namedCurve: 'P-256' });
const approverId = randomUUID();

before(async () => {
  store = await freshStore();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-start-'));
});
after(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One boot of the service's host: open the TPM, start measured, close the TPM. */
async function boot(configuration: Record<string, unknown>) {
  const host = await openHostTpm({ url: null, dataDir });
  try {
    return await measuredStart(store.db, host, configuration, randomUUID());
  } finally {
    await host.close();
  }
}

const A = { listeners: { tenant: 7410 }, logLevel: 'info' };
const B = { listeners: { tenant: 7410 }, logLevel: 'debug' };

async function approve(d: ServiceDigests, signature: Buffer) {
  await asSystem(store.db, 'test: the approval command writes this row', (trx) =>
    trx('service_configurations')
      .where({ code_digest: d.codeDigest, configuration_digest: d.configurationDigest })
      .update({ approval: 'signed', approval_signature: signature, approved_by: approverId, approved_at: new Date() }),
  );
}

test('before any operator exists the service starts uninitialised, with its measurements and no root', async () => {
  const s = await boot(A);
  assert.equal(s.root, null);
  assert.equal(s.state.root, 'uninitialised');
  assert.match(s.state.measurements.codeDigest, /^[0-9a-f]{64}$/);
  assert.match(s.state.measurements.codeManifest, /services\/kms\/src\/platform\/measured-start\.ts\n/);
  assert.doesNotMatch(s.state.measurements.codeManifest, /\.test\.ts/);
  assert.equal(s.state.launchLog.length, 3, 'PCR 17, 18 and 19 events');
});

test('with an operator, the first start creates the root and later starts unseal the same root', async () => {
  const jwk = publicJwk(approver.publicKey);
  await insertPrincipal(store.db, { principal_id: approverId, tenant_id: null, name: 'ops', role: 'cloud-admin', public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  const first = await boot(A);
  assert.equal(first.root?.length, 32);
  assert.deepEqual(first.state.approval?.kind, 'first-start');
  const again = await boot(A);
  assert.deepEqual(again.root, first.root);
  const row = await asSystem(store.db, 'test', (trx) => trx('service_root').first());
  assert.ok(!row.private_blob.includes(first.root!), 'the store holds the sealed blob, not the secret');
});

test('a changed configuration is refused until the approver signs it; then the same root unseals', async () => {
  const root = (await boot(A)).root!;
  await assert.rejects(boot(B), (e: unknown) => e instanceof StartRefused && /not an approved configuration/.test(e.message) && /sealkeep admin approve-configuration/.test(e.message));
  const pending = await asSystem(store.db, 'test', (trx) => trx('service_configurations').whereNull('approval'));
  assert.equal(pending.length, 1, 'the refused configuration waits for review');
  const d: ServiceDigests = { codeDigest: pending[0].code_digest, configurationDigest: pending[0].configuration_digest };
  assert.equal(JSON.parse(pending[0].configuration).logLevel, 'debug');

  await approve(d, signConfigurationApproval(approver.privateKey, d));
  const started = await boot(B);
  assert.deepEqual(started.root, root);
  assert.equal(started.state.approval?.kind, 'signed');
  assert.equal(started.state.approval?.approvedBy, 'ops');
  // The first-start configuration still unseals too.
  assert.deepEqual((await boot(A)).root, root);
});

test('an approval signed by another key, or for another configuration, is refused by the TPM', async () => {
  const C = { ...A, logLevel: 'warn' };
  await assert.rejects(boot(C), StartRefused);
  const row = await asSystem(store.db, 'test', (trx) => trx('service_configurations').whereNull('approval').first());
  const d: ServiceDigests = { codeDigest: row.code_digest, configurationDigest: row.configuration_digest };
  const mallory = newKeyPair('ec', { namedCurve: 'P-256' });
  await approve(d, signConfigurationApproval(mallory.privateKey, d));
  await assert.rejects(boot(C), (e: unknown) => e instanceof StartRefused && /TPM refused/.test(e.message));
  // A real signature, but over another configuration's policy.
  await approve(d, signConfigurationApproval(approver.privateKey, { ...d, configurationDigest: 'ab'.repeat(32) }));
  await assert.rejects(boot(C), StartRefused);
});

test('swapping the approver key in the database does not help: the TPM policy names the original', async () => {
  const D = { ...A, logLevel: 'trace' };
  await assert.rejects(boot(D), StartRefused);
  const mallory = newKeyPair('ec', { namedCurve: 'P-256' });
  await asSystem(store.db, 'test: an administrator with database access', (trx) => trx('service_root').update({ approver_jwk: JSON.stringify(publicJwk(mallory.publicKey)) }));
  const row = await asSystem(store.db, 'test', (trx) => trx('service_configurations').whereNull('approval').first());
  const d: ServiceDigests = { codeDigest: row.code_digest, configurationDigest: row.configuration_digest };
  await approve(d, signConfigurationApproval(mallory.privateKey, d));
  await assert.rejects(boot(D), StartRefused);
});

test('starts, refusals, the root and approvals are in the provider chain, which verifies', async () => {
  const lines = await asSystem(store.db, 'test', (trx) => exportChain(trx, PROVIDER_CHAIN));
  const entries = lines.map((l) => JSON.parse(l) as { action: string; outcome: string; principal: string });
  const count = (action: string, outcome = 'success') => entries.filter((e) => e.action === action && e.outcome === outcome).length;
  assert.equal(count('service.root.create'), 1);
  assert.ok(count('service.start') >= 5);
  assert.ok(count('service.start', 'denied') >= 4);
  const approvals = entries.filter((e) => e.action === 'service.configuration.approve');
  assert.equal(approvals.length, 1, 'an approval is audited once, the first time it takes effect');
  assert.equal(approvals[0]!.principal, 'ca:ops');
  const report = verifyAuditLog(lines.join('\n'));
  assert.deepEqual(report.findings.filter((f) => f.severity !== 'warning'), []);
});

// Signed checkpoints end to end: chains that moved get a checkpoint signed by the host TPM's AK
// (TPM2_Hash ticket + TPM2_Sign) when N entries are uncovered or T seconds passed; exports carry
// them in line; the offline verifier accepts them with the AK pinned, names an altered covered
// entry, and reports an untrusted AK. On both back ends.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { asProvider, asSystem, inTenant, type Store } from '@sealkeep/store';
import { freshStore } from '@sealkeep/store/testing';
import { commands, InProcessTransport, Tpm, TpmClient, TPM_SU } from '@sealkeep/tpm';
import { verifyAuditLog } from '@sealkeep/attestation';

import { appendAudit, exportChain, PROVIDER_CHAIN, type AuditActor } from './audit-log.js';
import { checkpointDueChains, TpmCheckpointSigner } from './checkpointer.js';
import { loadAk } from '../platform/host-tpm.js';
import { newKeyPair } from '@sealkeep/crypto';

let store: Store;
let signer: TpmCheckpointSigner;
let akPem: string;
const tenant = randomUUID();
const actor: AuditActor = { plane: 'tenant', principal: 'tn:alice', actorChain: ['tn:alice'], requestId: 'r1' };

before(async () => {
  store = await freshStore();
  await asSystem(store.db, 'test set-up', (trx) => trx('tenants').insert({ tenant_id: tenant, name: 'acme' }));
  const client = new TpmClient(new InProcessTransport(new Tpm()));
  await client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  const ak = await loadAk(client);
  akPem = ak.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  signer = new TpmCheckpointSigner(client, { ...ak, publicKeyPem: akPem });
});
after(() => store.close());

const append = (n: number, tenantId: string | null = tenant) =>
  (tenantId ? (fn: never) => inTenant(store.db, tenantId, fn) : (fn: never) => asProvider(store.db, fn))((async (trx: never) => {
    for (let i = 0; i < n; i++) await appendAudit(trx, actor, { tenantId, action: 'test.write', resource: `thing:${i}`, outcome: 'success' });
  }) as never);

test('a chain that moved gets a TPM-signed checkpoint, exported after the entry it covers, which verifies with the AK pinned', async () => {
  await append(3);
  await append(2, null);
  assert.equal(await checkpointDueChains(store.db, signer, { entries: 100, seconds: 60 }), 2, 'both chains: never checkpointed');
  assert.equal(await checkpointDueChains(store.db, signer, { entries: 100, seconds: 60 }), 0, 'nothing new');
  const lines = await inTenant(store.db, tenant, (trx) => exportChain(trx, tenant));
  assert.equal(lines.length, 4);
  assert.equal(JSON.parse(lines[3]!).kind, 'checkpoint');
  assert.equal(JSON.parse(lines[3]!).seq, 3);
  const report = verifyAuditLog(lines.join('\n'), { trustedAkPublicKeysPem: [akPem] });
  assert.deepEqual(report.findings, [], 'no finding at all: every entry is covered by a trusted, signed checkpoint');
  const provider = await asProvider(store.db, (trx) => exportChain(trx, PROVIDER_CHAIN));
  assert.deepEqual(verifyAuditLog(provider.join('\n'), { trustedAkPublicKeysPem: [akPem] }).findings, []);
});

test('a checkpoint is due after N new entries, or after T seconds when any are new', async () => {
  await append(2);
  assert.equal(await checkpointDueChains(store.db, signer, { entries: 3, seconds: 3600 }), 0, 'two new entries, N = 3');
  await append(1);
  assert.equal(await checkpointDueChains(store.db, signer, { entries: 3, seconds: 3600 }), 1, 'three new entries');
  await append(1);
  await asSystem(store.db, 'test: let time pass', (trx) => trx('audit_chains').where({ chain_id: tenant }).update({ checkpoint_at: trx.raw("now() - interval '2 seconds'") }));
  assert.equal(await checkpointDueChains(store.db, signer, { entries: 100, seconds: 1 }), 1, 'T passed with one new entry');
});

test('an entry altered after its checkpoint is named; an AK that is not pinned is reported', async () => {
  await asSystem(store.db, 'test: an administrator edits a row', async (trx) => {
    const row = await trx('audit_entries').where({ chain_id: tenant, seq: 2 }).first();
    await trx('audit_entries').where({ chain_id: tenant, seq: 2 }).update({ line: row.line.replace('thing:1', 'thing:9') });
  });
  const lines = await inTenant(store.db, tenant, (trx) => exportChain(trx, tenant));
  const altered = verifyAuditLog(lines.join('\n'), { trustedAkPublicKeysPem: [akPem] });
  assert.ok(altered.findings.some((f) => f.seq === 2 && f.severity === 'critical'), JSON.stringify(altered.findings));
  const other = newKeyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const untrusted = verifyAuditLog(lines.join('\n'), { trustedAkPublicKeysPem: [other] });
  assert.ok(untrusted.findings.some((f) => f.id === 'audit.checkpoint.untrusted-key'));
});

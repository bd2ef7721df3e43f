// Each scope's checks on planted rows, one finding id at a time: hosts (failed, never attested,
// no launch policy), VMs (boots that mismatched, ran without a policy, predate their policy or
// ran on a lapsed host; policies without vPCRs or under a disabled key; volumes without a sealed
// key, or whose last open was refused as rolled back or not checked), keys (states, a destroyed key still holding a blob, a primary version gone, high-value
// inventory), the service's measured configuration, and audit chains (a deleted tail, checkpoints
// signed by a key that is not the service's AK).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { asSystem } from '@sealkeep/store';
import { canonicalize, expectedServicePcrs, makeCheckpoint } from '@sealkeep/attestation';
import { newAk } from '../../../../../packages/attestation/src/audit/audit-log.fixture.js';
import type { ServiceState } from '../../platform/measured-start.js';
import { FindingCollector, type ScanScope } from './findings.js';
import { CHECKS } from './scan.js';
import type { ScanContext } from './scope-check.js';
import type { ScanProgress } from './progress.js';
import { plantFleet, scanFixture, type Fleet, type ScanFixture } from './scans.fixture.js';

let fx: ScanFixture;
let db: Knex;
let fleet: Fleet;
const WHY = 'test set-up';
const noProgress = { begin: async () => {}, advance: async () => {} } as unknown as ScanProgress;
const context = (over: Partial<ScanContext> = {}): ScanContext => ({ service: undefined, hostAttestationSeconds: 600, keyRotationDays: 365, ...over });

async function scan(scope: ScanScope, ctx = context()) {
  const out = new FindingCollector(scope, 10_000);
  const checked = await CHECKS[scope].run(db, ctx, out, noProgress);
  return { checked, findings: out.findings, ids: (subject: string) => out.findings.filter((f) => f.subject === subject).map((f) => f.id).sort() };
}

before(async () => {
  fx = await scanFixture();
  db = fx.store.db;
  fleet = await plantFleet(db, { tenants: 2, vmsPerTenant: 3 });
});
after(() => fx.close());

test('hosts: a failed attestation, one never made and a missing launch policy are each named; a fresh host is not', async () => {
  const failed = randomUUID();
  const never = randomUUID();
  await asSystem(db, WHY, (trx) =>
    trx('hosts').insert([
      { host_id: failed, name: 'h-failed', ek_certificate: Buffer.from('x'), approved_mle: JSON.stringify(['ee'.repeat(32)]), status: 'failed', last_failure: 'quote-nonce-mismatch', attested_at: new Date() },
      { host_id: never, name: 'h-never', ek_certificate: Buffer.from('x') },
    ]),
  );
  const r = await scan('hosts');
  assert.deepEqual(r.ids(`host:${failed}`), ['hosts.attestation.failed']);
  assert.equal(r.findings.find((f) => f.subject === `host:${failed}`)!.found, 'quote-nonce-mismatch');
  assert.deepEqual(r.ids(`host:${never}`), ['hosts.attestation.never', 'hosts.launch-policy.missing']);
  assert.deepEqual(r.ids(`host:${fleet.hostId}`), []);
  assert.equal(r.checked.hosts, 3);
});

test("VMs: the current boot's result, its timing against the policy, its host, and the policy's vPCRs and key", async () => {
  const [{ tenantId, vmId: mismatched }, { vmId: noPolicyBoot }, { vmId: unbound }] = fleet.vms as [{ tenantId: string; vmId: string }, { vmId: string }, { vmId: string }];
  const lapsedHost = randomUUID();
  await asSystem(db, WHY, async (trx) => {
    await trx('vm_boots').whereIn('boot_id', trx('vms').select('current_boot_id').where({ vm_id: mismatched })).update({ policy_result: 'mismatch' });
    await trx('vm_boots').whereIn('boot_id', trx('vms').select('current_boot_id').where({ vm_id: noPolicyBoot })).update({ policy_result: 'no-policy' });
    await trx('vms').where({ vm_id: noPolicyBoot }).update({ policy_updated_at: new Date(Date.now() + 60_000) });
    await trx('vms').where({ vm_id: unbound }).update({ reference_values: JSON.stringify({ pcrs: {} }) });
    await trx('hosts').insert({ host_id: lapsedHost, name: 'h-lapsed', ek_certificate: Buffer.from('x'), approved_mle: '["ff"]', status: 'attested', attested_at: new Date(Date.now() - 7200_000), attested_until: new Date(Date.now() - 3600_000) });
    await trx('vm_boots').whereIn('boot_id', trx('vms').select('current_boot_id').where({ vm_id: unbound })).update({ host_id: lapsedHost });
    await trx('volume_keys').whereIn('volume_id', trx('volumes').select('volume_id').where({ vm_id: unbound, name: 'boot' })).delete();
  });
  const r = await scan('vms');
  const at = (vm: string) => `tenant:${tenantId}/vm:${vm}`;
  assert.deepEqual(r.ids(at(mismatched)), ['vms.boot.mismatch']);
  assert.deepEqual(r.ids(at(noPolicyBoot)), ['vms.boot.no-policy', 'vms.boot.policy-changed']);
  assert.deepEqual(r.ids(at(unbound)), ['vms.boot.host-unattested', 'vms.release-policy.not-pcr-bound']);
  const volumes = r.findings.filter((f) => f.subject.startsWith(`${at(unbound)}/volume:`)).map((f) => f.id).sort();
  assert.deepEqual(volumes, ['vms.volume.high-confidentiality-unbound', 'vms.volume.no-sealed-key'], "the data volume is high; the boot volume's key is gone");

  await asSystem(db, WHY, (trx) => trx('keys').where({ key_id: fleet.releaseKeys.get(tenantId) }).update({ state: 'disabled' }));
  const disabled = await scan('vms');
  const unusable = disabled.findings.filter((f) => f.id === 'vms.release-key.unusable');
  assert.equal(unusable.length, 3, "every VM of the tenant whose release key is disabled");
  assert.equal(unusable[0]!.found, 'disabled');
  await asSystem(db, WHY, (trx) => trx('keys').where({ key_id: fleet.releaseKeys.get(tenantId) }).update({ state: 'enabled' }));
});

test("VMs' volumes: an open refused as rolled back, and one that could not be checked, are named; an open as closed is not", async () => {
  const { tenantId, vmId } = fleet.vms.at(-1)!;
  const [refused, unchecked, upgraded, asClosed] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const vmAt = `tenant:${tenantId}/vm:${vmId}`;
  await asSystem(db, WHY, async (trx) => {
    const vol = (volumeId: string, name: string) => ({ volume_id: volumeId, tenant_id: tenantId, vm_id: vmId, name, size_bytes: 4096, sector_size: 4096, confidentiality: 'moderate', integrity: 'moderate', availability: 'moderate' });
    await trx('volumes').insert([vol(refused, 'v-refused'), vol(unchecked, 'v-unchecked'), vol(upgraded, 'v-upgraded'), vol(asClosed, 'v-as-closed')]);
    const state = (volumeId: string, over: object) => ({ volume_id: volumeId, tenant_id: tenantId, status: 'served', merkle_root: Buffer.alloc(32, 1), sectors: 1, session_id: 's', boot_id: randomUUID(), ...over });
    await trx('volume_states').insert([
      state(refused, { status: 'closed', opened_as: 'as-closed', refused_at: new Date() }),
      state(unchecked, { opened_as: 'after-unclean-end' }),
      state(upgraded, { opened_as: 'earlier-root' }),
      state(asClosed, { opened_as: 'as-closed' }),
    ]);
  });
  const r = await scan('vms');
  const ids = (volumeId: string) => r.ids(`${vmAt}/volume:${volumeId}`).filter((id) => id.startsWith('vms.volume.state-'));
  assert.deepEqual(ids(refused), ['vms.volume.state-refused']);
  assert.deepEqual(ids(unchecked), ['vms.volume.state-unchecked']);
  assert.deepEqual(ids(upgraded), ['vms.volume.state-unchecked']);
  assert.deepEqual(ids(asClosed), []);
  assert.equal(r.findings.find((f) => f.id === 'vms.volume.state-refused')!.severity, 'high');
});

test('keys: states, a destroyed key that still holds a blob, a primary version gone, and high-value keys', async () => {
  const tenantId = fleet.tenants[1]!;
  const ids = { destroyed: randomUUID(), shredded: randomUUID(), pending: randomUUID(), gone: randomUUID(), high: randomUUID() };
  const key = (keyId: string, name: string, over: object = {}) => ({ key_id: keyId, tenant_id: tenantId, name, type: 'aes-256', state: 'enabled', primary_version: 1, confidentiality: 'moderate', integrity: 'moderate', availability: 'moderate', ...over });
  const version = (keyId: string, blob: Buffer | null, version = 1) => ({ key_id: keyId, version, tenant_id: tenantId, origin: 'generated', private_blob: blob });
  await asSystem(db, WHY, async (trx) => {
    await trx('keys').insert([
      key(ids.destroyed, 'k-destroyed-dirty', { state: 'destroyed', destroyed_at: new Date() }),
      key(ids.shredded, 'k-destroyed-clean', { state: 'destroyed', destroyed_at: new Date() }),
      key(ids.pending, 'k-pending', { state: 'pending-destruction', destroy_after: new Date(Date.now() + 7 * 86400_000) }),
      key(ids.gone, 'k-gone', { primary_version: 2 }),
      key(ids.high, 'k-high', { integrity: 'high' }),
    ]);
    await trx('key_versions').insert([version(ids.destroyed, Buffer.from('blob')), version(ids.shredded, null), version(ids.pending, Buffer.from('b')), version(ids.gone, Buffer.from('b')), version(ids.high, Buffer.from('b'))]);
  });
  const r = await scan('keys');
  const at = (k: string) => `tenant:${tenantId}/key:${k}`;
  assert.deepEqual(r.ids(at(ids.destroyed)), ['keys.destroyed.blob-remains', 'keys.state.destroyed']);
  assert.deepEqual(r.ids(at(ids.shredded)), ['keys.state.destroyed']);
  assert.deepEqual(r.ids(at(ids.pending)), ['keys.state.pending-destruction']);
  assert.deepEqual(r.ids(at(ids.gone)), ['keys.primary-version.missing']);
  assert.deepEqual(r.ids(at(ids.high)), ['keys.classification.high']);
  assert.deepEqual(r.ids(at(fleet.releaseKeys.get(tenantId)!)), [], 'a young, enabled, moderate key raises nothing');
});

function measuredService(over: Partial<ServiceState> = {}): ServiceState {
  const digests = { codeDigest: '1a'.repeat(32), configurationDigest: '2b'.repeat(32) };
  const pcrs = Object.fromEntries(expectedServicePcrs(digests).map((v, i) => [String(17 + i), v.toString('hex')]));
  return {
    measurements: { ...digests, configuration: '{}', codeManifest: '' },
    pcrs,
    root: 'unsealed',
    approval: { kind: 'first-start', approvedBy: 'ops', approvedAt: new Date().toISOString() },
    tpm: 'in-process',
    ak: { publicKeyPem: newAk().publicKeyPem },
    ...over,
  } as unknown as ServiceState;
}

test("configuration: the measured digests, PCRs 17–19 against them, and the store's record of the approval", async () => {
  assert.deepEqual((await scan('configuration')).findings.map((f) => f.id), ['configuration.unmeasured']);
  const service = measuredService();
  const unrecorded = await scan('configuration', context({ service }));
  assert.deepEqual(unrecorded.findings.map((f) => f.id), ['configuration.measured', 'configuration.approval.unrecorded']);
  await asSystem(db, WHY, (trx) =>
    trx('service_configurations').insert({ code_digest: service.measurements.codeDigest, configuration_digest: service.measurements.configurationDigest, code_manifest: '', configuration: '{}', approval: 'first-start' }),
  );
  const good = await scan('configuration', context({ service }));
  assert.deepEqual(good.findings.map((f) => f.id), ['configuration.measured']);
  assert.match(good.findings[0]!.found!, new RegExp(`code sha256:${service.measurements.codeDigest}`));
  const tampered = await scan('configuration', context({ service: measuredService({ pcrs: { ...service.pcrs, '19': '00'.repeat(32) } }) }));
  assert.deepEqual(tampered.findings.map((f) => [f.id, f.message]).slice(1), [['configuration.pcrs.mismatch', 'PCR 19 is not what the measured launch of these digests produces']]);
  const fresh = await scan('configuration', context({ service: measuredService({ root: 'uninitialised', approval: null }) }));
  assert.deepEqual(fresh.findings.map((f) => f.id), ['configuration.measured', 'configuration.root.uninitialised']);
});

test("audit: a tail deleted from a chain, and checkpoints signed by a key other than the service's AK", async () => {
  const [first, second] = fleet.tenants as [string, string];
  await asSystem(db, WHY, (trx) => trx('audit_entries').where({ chain_id: first, seq: 5 }).delete());
  const chain = await asSystem(db, WHY, (trx) => trx('audit_chains').where({ chain_id: second }).first());
  const rogue = newAk();
  const cp = await makeCheckpoint({ seq: Number(chain.seq), hash: chain.head_hash }, { clock: 1000, resetCount: 0, restartCount: 0 }, rogue.signer, rogue.publicKeyPem);
  await asSystem(db, WHY, (trx) => trx('audit_checkpoints').insert({ chain_id: second, seq: cp.seq, tenant_id: second, line: canonicalize(cp) }));

  const unpinned = await scan('audit');
  assert.deepEqual(unpinned.ids(`chain:${first}`), ['audit.chain.head-mismatch'], 'no checkpoint covers the tail: only the recorded head shows it');
  assert.match(unpinned.findings.find((f) => f.subject === `chain:${first}`)!.message, /head is at seq 5 but its entries end at 4/);
  assert.deepEqual(unpinned.ids(`chain:${second}`), ['audit.chain.verified'], 'without a measured start, a checkpoint verifies against its own key');

  const pinned = await scan('audit', context({ service: measuredService() }));
  const second_ = pinned.findings.filter((f) => f.subject.startsWith(`chain:${second}`));
  assert.ok(second_.some((f) => f.id === 'audit.checkpoint.untrusted-key' && f.severity === 'high'), JSON.stringify(second_));
  assert.ok(!second_.some((f) => f.id === 'audit.chain.verified'));
  assert.equal(pinned.checked.chains, 2);
});

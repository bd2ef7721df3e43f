// A key's life through the API: generated in the TPM, rotated (new version encrypts, old ones
// still decrypt and verify), disabled and enabled, scheduled for destruction and cancelled,
// destroyed after its waiting period with every blob erased and its quota given back, the
// tenant-wide emergency disable, classification — each step in the tenant's audit chain.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { inTenant } from '@sealkeep/store';
import { verifyAuditLog } from '@sealkeep/attestation';
import { exportChain } from '../../audit/audit-log.js';
import { sweepKeys } from './sweeper.js';
import { keysApi, type KeysApi } from './keys-api.fixture.js';

let api: KeysApi;
before(async () => (api = await keysApi()));
after(() => api.close());

const b64 = (s: string) => Buffer.from(s).toString('base64');
const newKey = async (name: string, type: string, extra: object = {}) => {
  const r = await api.call(api.officer, 'post', `${api.base}/keys`, { name, type, ...extra });
  assert.equal(r.status, 201, r.text);
  return r.body as { keyId: string; primaryVersion: number; state: string; cia: Record<string, string>; versions: Array<{ publicKeyPem: string | null }> };
};

test('rotation: the new version encrypts and signs, the old ones still decrypt and verify', async () => {
  const aes = await newKey('rotated-aes', 'aes-256', { cia: { confidentiality: 'high', integrity: 'high', availability: 'low' } });
  assert.deepEqual(aes.cia, { confidentiality: 'high', integrity: 'high', availability: 'low' });
  const url = `${api.base}/keys/${aes.keyId}`;
  const v1 = await api.call(api.user, 'post', `${url}/encrypt`, { plaintext: b64('one'), aad: b64('ctx') });
  const rotated = await api.call(api.officer, 'post', `${url}/rotate`);
  assert.equal(rotated.body.primaryVersion, 2);
  const v2 = await api.call(api.user, 'post', `${url}/encrypt`, { plaintext: b64('two'), aad: b64('ctx') });
  assert.equal(v2.body.keyVersion, 2);
  for (const [c, text] of [[v1, 'one'], [v2, 'two']] as const) {
    const d = await api.call(api.user, 'post', `${url}/decrypt`, { ciphertext: c.body.ciphertext, aad: b64('ctx') });
    assert.equal(Buffer.from(d.body.plaintext, 'base64').toString(), text);
  }

  const ec = await newKey('rotated-ec', 'ec-p384');
  const ecUrl = `${api.base}/keys/${ec.keyId}`;
  const s1 = await api.call(api.user, 'post', `${ecUrl}/sign`, { message: b64('m') });
  const after = (await api.call(api.officer, 'post', `${ecUrl}/rotate`)).body;
  assert.ok(verify('sha384', Buffer.from('m'), after.versions[0].publicKeyPem, Buffer.from(s1.body.signature, 'base64')), 'the DER signature verifies with the published key');
  const checked = await api.call(api.user, 'post', `${ecUrl}/verify`, { message: b64('m'), signature: s1.body.signature, keyVersion: 1 });
  assert.equal(checked.body.valid, true);
  const wrongVersion = await api.call(api.user, 'post', `${ecUrl}/verify`, { message: b64('m'), signature: s1.body.signature, keyVersion: 2 });
  assert.equal(wrongVersion.body.valid, false);
});

test('a disabled key does nothing until enabled; the tenant-wide emergency disable stops every key', async () => {
  const k = await newKey('switch', 'hmac-sha256');
  const url = `${api.base}/keys/${k.keyId}`;
  assert.equal((await api.call(api.officer, 'post', `${url}/disable`)).body.state, 'disabled');
  const refused = await api.call(api.user, 'post', `${url}/hmac`, { message: b64('x') });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.type, 'https://sealkeep.dev/problems/key-not-enabled');
  assert.equal((await api.call(api.officer, 'post', `${url}/enable`)).body.state, 'enabled');
  assert.equal((await api.call(api.user, 'post', `${url}/hmac`, { message: b64('x') })).status, 200);

  const other = await newKey('also-on', 'aes-256');
  const all = await api.call(api.officer, 'post', `${api.base}/keys/disable-all`);
  assert.equal(all.status, 200, all.text);
  assert.ok(all.body.disabled.includes(k.keyId) && all.body.disabled.includes(other.keyId));
  const list = await api.call(api.user, 'get', `${api.base}/keys`);
  assert.ok(list.body.every((key: { state: string }) => key.state !== 'enabled'));
  assert.equal((await api.call(api.user, 'post', `${api.base}/keys/${other.keyId}/encrypt`, { plaintext: b64('x') })).status, 409);
});

test('destruction waits 7–30 days, can be cancelled, then erases every blob and gives the quota back', async () => {
  await api.f.call(api.f.adminApp, api.f.operator, 'put', `/v1/tenants/${api.tenantId}/quotas`, { keys: 100 });
  const k = await newKey('doomed', 'aes-256');
  const url = `${api.base}/keys/${k.keyId}`;
  assert.equal((await api.call(api.officer, 'post', `${url}/schedule-destruction`, { waitingPeriodDays: 3 })).status, 400, 'shorter than 7 days');
  assert.equal((await api.call(api.officer, 'post', `${url}/schedule-destruction`, { waitingPeriodDays: 31 })).status, 400);
  const scheduled = await api.call(api.officer, 'post', `${url}/schedule-destruction`, { waitingPeriodDays: 7 });
  assert.equal(scheduled.body.state, 'pending-destruction');
  const days = (new Date(scheduled.body.destroyAfter).getTime() - Date.now()) / 86400_000;
  assert.ok(days > 6.9 && days <= 7.01, `destroyAfter in 7 days, got ${days}`);
  assert.equal((await api.call(api.user, 'post', `${url}/encrypt`, { plaintext: b64('x') })).status, 409);
  assert.equal((await sweepKeys(api.f.store.db, api.keys)).destroyed.length, 0, 'not before its time');
  assert.equal((await api.call(api.officer, 'post', `${url}/cancel-destruction`)).body.state, 'disabled');

  await api.call(api.officer, 'post', `${url}/schedule-destruction`, { waitingPeriodDays: 30 });
  const usedBefore = (await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage.keys;
  await inTenant(api.f.store.db, api.tenantId, (trx) => trx('keys').where({ key_id: k.keyId }).update({ destroy_after: new Date(Date.now() - 1000) }));
  assert.deepEqual((await sweepKeys(api.f.store.db, api.keys)).destroyed, [k.keyId]);
  const gone = await api.call(api.officer, 'get', url);
  assert.equal(gone.body.state, 'destroyed');
  const blobs = await inTenant(api.f.store.db, api.tenantId, (trx) => trx('key_versions').where({ key_id: k.keyId }).select('private_blob', 'public_area'));
  assert.ok(blobs.every((b) => b.private_blob === null && b.public_area === null), 'crypto-shredded');
  assert.equal((await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage.keys, usedBefore - 1);
  assert.equal((await api.call(api.officer, 'post', `${url}/enable`)).status, 409, 'a destroyed key stays destroyed');
});

test('classification changes are audited; every step of the chain verifies offline and names who acted', async () => {
  const k = await newKey('classified', 'ec-p256');
  const r = await api.call(api.officer, 'patch', `${api.base}/keys/${k.keyId}`, { cia: { availability: 'high' }, description: 'payroll signing' });
  assert.equal(r.body.cia.availability, 'high');
  assert.equal(r.body.description, 'payroll signing');
  assert.equal((await api.call(api.user, 'patch', `${api.base}/keys/${k.keyId}`, { cia: { availability: 'low' } })).status, 403, 'a user cannot reclassify');
  const lines = await inTenant(api.f.store.db, api.tenantId, (trx) => exportChain(trx, api.tenantId));
  const report = verifyAuditLog(lines.join('\n') + '\n');
  assert.deepEqual(report.findings.filter((f) => f.severity !== 'warning'), []);
  const actions = lines.map((l) => JSON.parse(l).action as string);
  for (const a of ['key.generate', 'key.rotate', 'key.disable', 'key.enable', 'key.disable-all', 'key.schedule-destruction', 'key.cancel-destruction', 'key.destroy', 'key.update', 'key.encrypt', 'key.decrypt', 'key.sign', 'key.hmac']) {
    assert.ok(actions.includes(a), `${a} is in the tenant's chain`);
  }
});

test('a name is unique in its tenant, and the key quota holds', async () => {
  await newKey('unique-name', 'aes-256');
  assert.equal((await api.call(api.officer, 'post', `${api.base}/keys`, { name: 'unique-name', type: 'aes-256' })).status, 409);
  const used = (await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage.keys;
  await api.f.call(api.f.adminApp, api.f.operator, 'put', `/v1/tenants/${api.tenantId}/quotas`, { keys: used });
  const over = await api.call(api.officer, 'post', `${api.base}/keys`, { name: 'one-too-many', type: 'aes-256' });
  assert.equal(over.status, 429);
  assert.equal(over.body.type, 'https://sealkeep.dev/problems/quota-exceeded');
  await api.f.call(api.f.adminApp, api.f.operator, 'put', `/v1/tenants/${api.tenantId}/quotas`, { keys: null });
});

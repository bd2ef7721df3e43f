// VMs and volumes through the API: registration by a tenant user, volumes counted against the
// volume and volume-size quotas (concurrent creations never pass a limit; removal gives back),
// release policies written only by the officer and only under an AES key of the tenant's, and
// nothing reachable from another tenant.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { keysApi, type KeysApi } from '../keys/keys-api.fixture.js';

let api: KeysApi;
before(async () => (api = await keysApi()));
after(() => api.close());

const vm = async (name: string) => {
  const r = await api.call(api.user, 'post', `${api.base}/vms`, { name });
  assert.equal(r.status, 201, r.text);
  return r.body.vmId as string;
};
const quota = (limits: object) => api.f.call(api.f.adminApp, api.f.operator, 'put', `/v1/tenants/${api.tenantId}/quotas`, limits);

test('a user registers a VM and its volumes; sizes must be whole sectors; the C.I.A. is kept', async () => {
  const vmId = await vm('web-01');
  const added = await api.call(api.user, 'post', `${api.base}/vms/${vmId}/volumes`, { name: 'boot', sizeBytes: 64 * 1024 * 1024, sectorSize: 4096, cia: { confidentiality: 'high', integrity: 'high', availability: 'moderate' } });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.body.volumes[0].sectorSize, 4096);
  assert.equal(added.body.volumes[0].cia.integrity, 'high');
  assert.equal((await api.call(api.user, 'post', `${api.base}/vms/${vmId}/volumes`, { name: 'odd', sizeBytes: 1000, sectorSize: 512 })).status, 400);
  assert.equal((await api.call(api.user, 'post', `${api.base}/vms`, { name: 'web-01' })).status, 409);
  const listed = await api.call(api.officer, 'get', `${api.base}/vms`);
  assert.deepEqual(listed.body.map((v: { name: string }) => v.name), ['web-01']);
});

test('volume quotas hold under concurrent creation, and removal gives the bytes back', async () => {
  const vmId = await vm('db-01');
  const used = (await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage;
  await quota({ volumes: used.volumes + 3, volumeBytes: used.volumeBytes + 10 * 4096 });
  const tries = await Promise.all(Array.from({ length: 8 }, (_, i) => api.call(api.user, 'post', `${api.base}/vms/${vmId}/volumes`, { name: `d${i}`, sizeBytes: 4096, sectorSize: 4096 })));
  assert.equal(tries.filter((r) => r.status === 201).length, 3, 'exactly the volume limit');
  assert.ok(tries.filter((r) => r.status !== 201).every((r) => r.status === 429 && r.body.type.endsWith('/quota-exceeded')));
  const big = await api.call(api.user, 'post', `${api.base}/vms/${vmId}/volumes`, { name: 'big', sizeBytes: 20 * 4096, sectorSize: 4096 });
  assert.equal(big.status, 429);
  const current = (await api.call(api.user, 'get', `${api.base}/vms/${vmId}`)).body.volumes;
  const removed = await api.call(api.user, 'delete', `${api.base}/vms/${vmId}/volumes/${current[0].volumeId}`);
  assert.equal(removed.status, 200, removed.text);
  const after = (await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage;
  assert.equal(after.volumes, used.volumes + 2);
  assert.equal(after.volumeBytes, used.volumeBytes + 2 * 4096);
  await quota({ volumes: null, volumeBytes: null });
});

test('the VM quota holds under concurrent registration', async () => {
  const used = (await api.call(api.officer, 'get', `${api.base}/quotas`)).body.usage.vms;
  await quota({ vms: used + 2 });
  const tries = await Promise.all(Array.from({ length: 6 }, (_, i) => api.call(api.user, 'post', `${api.base}/vms`, { name: `burst-${i}` })));
  assert.equal(tries.filter((r) => r.status === 201).length, 2);
  await quota({ vms: null });
});

test('release policies: the officer names an AES key of the tenant and the reference vPCRs; users cannot', async () => {
  const vmId = await vm('app-01');
  const kek = (await api.call(api.officer, 'post', `${api.base}/keys`, { name: 'vm-kek', type: 'aes-256' })).body.keyId;
  const signer = (await api.call(api.officer, 'post', `${api.base}/keys`, { name: 'not-a-kek', type: 'ec-p256' })).body.keyId;
  const referenceValues = { pcrs: { sha256: { '8': 'ab'.repeat(32), '9': 'cd'.repeat(32) } } };
  assert.equal((await api.call(api.user, 'put', `${api.base}/vms/${vmId}/release-policy`, { keyId: kek, referenceValues })).status, 403);
  assert.equal((await api.call(api.officer, 'put', `${api.base}/vms/${vmId}/release-policy`, { keyId: signer, referenceValues })).status, 400);
  const set = await api.call(api.officer, 'put', `${api.base}/vms/${vmId}/release-policy`, { keyId: kek, referenceValues });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.body.releasePolicy.referenceValues, referenceValues);

  const other = await api.f.newTenant();
  const mallory = await api.f.addPrincipal(other.tenantId, 'mallory', 'tenant-user');
  const peek = await api.f.call(api.app, mallory, 'get', `/v1/tenants/${other.tenantId}/vms/${vmId}`);
  assert.equal(peek.status, 404, "another tenant's VM is not found");
  const theirKey = await api.f.call(api.app, other.officer, 'put', `/v1/tenants/${other.tenantId}/vms/${vmId}/release-policy`, { keyId: kek, referenceValues });
  assert.equal(theirKey.status, 404);
});

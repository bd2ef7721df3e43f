// The quota routes end to end: the cloud-admin sets a tenant's limits on the admin plane and reads
// them with the usage; the tenant's officer reads the same on the tenant plane; each change is in
// the tenant's own audit chain, which still verifies; a limit below usage is accepted and said so.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { inTenant } from '@sealkeep/store';
import { verifyAuditLog } from '@sealkeep/attestation';
import { apiFixture, type ApiFixture } from './api.fixture.js';
import { reserve } from './quota.js';

let f: ApiFixture;
before(async () => {
  f = await apiFixture();
});
after(() => f.store.close());

const quotas = (tenantId: string) => `/v1/tenants/${tenantId}/quotas`;
const UNLIMITED = { keys: null, vms: null, volumes: null, volumeBytes: null, opsPerSecond: null };
const NOTHING_USED = { keys: 0, vms: 0, volumes: 0, volumeBytes: 0 };

test('a tenant starts unlimited; the cloud-admin sets limits, both planes read them, the others keep their values', async () => {
  const { tenantId, officer } = await f.newTenant();
  const initial = await f.call(f.tenantApp, officer, 'get', quotas(tenantId));
  assert.equal(initial.status, 200, initial.text);
  assert.deepEqual(initial.body, { tenantId, limits: UNLIMITED, usage: NOTHING_USED, updatedAt: null });

  const set = await f.call(f.adminApp, f.operator, 'put', quotas(tenantId), { keys: 10, volumeBytes: 2 ** 40 });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.body.limits, { ...UNLIMITED, keys: 10, volumeBytes: 2 ** 40 });
  assert.deepEqual(set.body.belowUsage, []);
  const more = await f.call(f.adminApp, f.operator, 'put', quotas(tenantId), { vms: 4, keys: null });
  assert.deepEqual(more.body.limits, { ...UNLIMITED, vms: 4, volumeBytes: 2 ** 40 });

  const asProvider = await f.call(f.adminApp, f.operator, 'get', quotas(tenantId));
  const asTenant = await f.call(f.tenantApp, officer, 'get', quotas(tenantId));
  assert.equal(asTenant.status, 200, asTenant.text);
  assert.deepEqual(asTenant.body, asProvider.body);
  assert.deepEqual(asTenant.body.limits, more.body.limits);
  assert.ok(Date.parse(asTenant.body.updatedAt) > 0);
});

test("setting limits is audited in the tenant's chain, which the officer exports and verifies", async () => {
  const { tenantId, officer } = await f.newTenant();
  await f.call(f.adminApp, f.operator, 'put', quotas(tenantId), { keys: 3, opsPerSecond: 50 });
  const exported = await f.call(f.tenantApp, officer, 'get', `/v1/tenants/${tenantId}/audit`);
  assert.equal(exported.status, 200, exported.text);
  const entries = (exported.body.lines as string[]).map((l) => JSON.parse(l));
  const change = entries.find((e) => e.action === 'quota.set');
  assert.ok(change, 'a quota.set entry');
  assert.equal(change.principal, 'ca:ops');
  assert.equal(change.plane, 'admin');
  assert.equal(change.tenantId, tenantId);
  assert.deepEqual(change.details, { keys: 3, keysBefore: null, opsPerSecond: 50, opsPerSecondBefore: null });
  const report = verifyAuditLog(exported.body.lines);
  assert.deepEqual(report.findings.filter((x) => x.severity !== 'warning'), []);
});

test('a limit below current usage is accepted, reported, and blocks further creation', async () => {
  const { tenantId } = await f.newTenant();
  await inTenant(f.store.db, tenantId, (trx) => reserve(trx, tenantId, 'keys', 5));
  const lowered = await f.call(f.adminApp, f.operator, 'put', quotas(tenantId), { keys: 2 });
  assert.equal(lowered.status, 200, lowered.text);
  assert.deepEqual(lowered.body.usage.keys, 5);
  assert.deepEqual(lowered.body.belowUsage, [{ resource: 'keys', limit: 2, used: 5 }]);
  assert.match(lowered.body.warnings[0], /keys: the limit 2 is below the 5 in use; nothing is removed, but creating more is refused/);
  await assert.rejects(
    inTenant(f.store.db, tenantId, (trx) => reserve(trx, tenantId, 'keys', 1)),
    /keys: limit 2, in use 5/,
  );
});

test('bad limits, no limit at all, and unknown tenants are refused', async () => {
  const { tenantId } = await f.newTenant();
  for (const body of [{}, { keys: -1 }, { keys: 1.5 }, { opsPerSecond: 0 }, { hosts: 3 }, { keys: '5' }]) {
    const res = await f.call(f.adminApp, f.operator, 'put', quotas(tenantId), body);
    assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
  }
  const unknown = await f.call(f.adminApp, f.operator, 'put', quotas(randomUUID()), { keys: 1 });
  assert.equal(unknown.status, 404);
  assert.equal((await f.call(f.adminApp, f.operator, 'get', quotas(randomUUID()))).status, 404);
});

test("a tenant's officer cannot set limits, nor read another tenant's", async () => {
  const a = await f.newTenant();
  const b = await f.newTenant();
  assert.equal((await f.call(f.adminApp, a.officer, 'put', quotas(a.tenantId), { keys: 1000 })).status, 403);
  assert.equal((await f.call(f.tenantApp, a.officer, 'get', quotas(b.tenantId))).status, 403);
});

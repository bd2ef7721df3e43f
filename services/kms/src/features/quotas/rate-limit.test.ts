// Operations per second per tenant, through the default admission of buildListeners: over the
// limit is 429 with Retry-After, and the tenant recovers after waiting that long; the bucket is
// in the store, so two API nodes share it; other tenants, the cloud-admin, and tenants without a
// limit (which cost no write) are not held back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { asSystem } from '@sealkeep/store';
import { apiFixture, type ApiFixture, type App, type Caller } from './api.fixture.js';

let f: ApiFixture;
before(async () => {
  f = await apiFixture();
});
after(() => f.store.close());

const RATE = 1; // operations per second; the bucket holds one second's worth (a burst must take 9 s or more to see no refusal)

async function limitedTenant(opsPerSecond: number) {
  const tenant = await f.newTenant();
  const set = await f.call(f.adminApp, f.operator, 'put', `/v1/tenants/${tenant.tenantId}/quotas`, { opsPerSecond });
  assert.equal(set.status, 200, set.text);
  return tenant;
}

/** `n` concurrent reads of the tenant's quotas, spread over `apps`; the statuses and how long it took. */
async function burst(apps: App[], who: Caller, tenantId: string, n: number) {
  const started = Date.now();
  const responses = await Promise.all(Array.from({ length: n }, (_, i) => f.call(apps[i % apps.length]!, who, 'get', `/v1/tenants/${tenantId}/quotas`)));
  return { responses, seconds: (Date.now() - started) / 1000 };
}

/** At most the bucket plus what refilled while the burst ran may be admitted. */
function assertLimited(responses: Array<{ status: number }>, seconds: number) {
  const admitted = responses.filter((r) => r.status === 200).length;
  const refused = responses.filter((r) => r.status === 429).length;
  assert.equal(admitted + refused, responses.length, `only 200 or 429: ${responses.map((r) => r.status)}`);
  assert.ok(admitted >= 1, 'the bucket starts full');
  assert.ok(admitted <= RATE + Math.ceil(seconds * RATE), `${admitted} admitted in ${seconds} s at ${RATE}/s`);
  assert.ok(refused >= 1);
}

test('over the ops/s limit: 429 rate-limited with Retry-After; after waiting, admitted again', async () => {
  const { tenantId, officer } = await limitedTenant(RATE);
  const { responses, seconds } = await burst([f.tenantApp], officer, tenantId, 10);
  assertLimited(responses, seconds);
  const refused = responses.find((r) => r.status === 429)!;
  assert.equal(refused.body.type, 'https://sealkeep.dev/problems/rate-limited');
  const retryAfter = String(refused.headers['retry-after']);
  assert.match(retryAfter, /^[1-9]\d*$/, 'whole seconds');
  await new Promise((r) => setTimeout(r, Number(retryAfter) * 1000));
  const again = await f.call(f.tenantApp, officer, 'get', `/v1/tenants/${tenantId}/quotas`);
  assert.equal(again.status, 200, again.text);
});

test('the limit holds across API nodes: two nodes over one store share the bucket', async () => {
  const { tenantId, officer } = await limitedTenant(RATE);
  const other = f.nodeApps();
  const { responses, seconds } = await burst([f.tenantApp, other.tenantApp], officer, tenantId, 12);
  assertLimited(responses, seconds);
});

test('another tenant, and the cloud-admin acting on the limited tenant, are not held back', async () => {
  const limited = await limitedTenant(RATE);
  const neighbour = await limitedTenant(RATE);
  const { responses } = await burst([f.tenantApp], limited.officer, limited.tenantId, 8);
  assert.ok(responses.some((r) => r.status === 429));
  const fine = await f.call(f.tenantApp, neighbour.officer, 'get', `/v1/tenants/${neighbour.tenantId}/quotas`);
  assert.equal(fine.status, 200, fine.text);
  // The operator who would raise the limit is never locked out by the tenant spending it.
  for (let i = 0; i < 5; i++) {
    const res = await f.call(f.adminApp, f.operator, 'get', `/v1/tenants/${limited.tenantId}/quotas`);
    assert.equal(res.status, 200, res.text);
  }
});

test('a tenant without an ops/s limit is never refused and its requests write no bucket', async () => {
  const { tenantId, officer } = await f.newTenant();
  const { responses } = await burst([f.tenantApp], officer, tenantId, 12);
  assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
  const buckets = await asSystem(f.store.db, 'test check', (trx) => trx('rate_limit_buckets').where({ tenant_id: tenantId }));
  assert.deepEqual(buckets, []);
});

test('admission can be turned off', async () => {
  const { tenantId, officer } = await limitedTenant(RATE);
  const { tenantApp } = f.nodeApps({ admit: false });
  const { responses } = await burst([tenantApp], officer, tenantId, 8);
  assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
});

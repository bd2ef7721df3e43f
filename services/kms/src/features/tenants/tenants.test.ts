// Tenant creation and enrollment end to end: the cloud-admin creates a tenant and gets a
// one-time code (stored only as a hash); the security officer enrolls with their own key and
// then signs requests as the tenant-admin. A used, expired, unknown or key-bound-elsewhere code
// is refused with one answer; the cloud-admin cannot use a code bound to the officer's key.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader, selfSignedAuthorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../../server.js';
import { insertPrincipal } from '../principals/store.js';

type App = Parameters<typeof request>[0];
let store: Store;
let tenantApp: App;
let adminApp: App;
const operator = { id: randomUUID(), key: newKeyPair('ec', { namedCurve: 'P-256' }) };

before(async () => {
  store = await freshStore();
  const jwk = publicJwk(operator.key.publicKey);
  await insertPrincipal(store.db, { principal_id: operator.id, tenant_id: null, name: 'ops', role: 'cloud-admin', public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  [tenantApp, adminApp] = buildListeners({ store }, [['tenant'], ['admin']]) as unknown as [App, App];
});
after(() => store.close());

async function createTenant(name: string, extra: Record<string, unknown> = {}) {
  const body = JSON.stringify({ name, ...extra });
  return request(adminApp)
    .post('/v1/tenants')
    .set('content-type', 'application/json')
    .set('authorization', authorizationHeader({ key: operator.key.privateKey, principalId: operator.id, method: 'POST', url: '/v1/tenants', body }))
    .send(body);
}

async function enroll(key: KeyObject, code: string, name = 'alice') {
  const body = JSON.stringify({ code, name });
  return request(tenantApp)
    .post('/v1/enroll')
    .set('content-type', 'application/json')
    .set('authorization', selfSignedAuthorizationHeader({ key, method: 'POST', url: '/v1/enroll', body }))
    .send(body);
}

test('create a tenant, enroll its officer, and the officer signs requests as tenant-admin', async () => {
  const created = await createTenant('acme');
  assert.equal(created.status, 201, created.text);
  const { tenantId, enrollment } = created.body;
  assert.match(enrollment.code, /^skenroll_[A-Za-z0-9_-]{43}$/);
  // Only the code's hash is stored.
  const rows = await store.db('enrollment_codes').where({ tenant_id: tenantId });
  assert.equal(rows[0].code_hash, createHash('sha256').update(enrollment.code).digest('hex'));
  assert.ok(!JSON.stringify(rows).includes(enrollment.code));

  const officer = newKeyPair('ed25519');
  const enrolled = await enroll(officer.privateKey, enrollment.code);
  assert.equal(enrolled.status, 201, enrolled.text);
  assert.equal(enrolled.body.tenantId, tenantId);
  const self = await request(tenantApp)
    .get('/v1/self')
    .set('authorization', authorizationHeader({ key: officer.privateKey, principalId: enrolled.body.principalId, method: 'GET', url: '/v1/self' }));
  assert.deepEqual(self.body, { principalId: enrolled.body.principalId, name: 'alice', role: 'tenant-admin', tenantId });

  // One use only.
  const again = await enroll(newKeyPair('ed25519').privateKey, enrollment.code, 'mallory');
  assert.equal(again.status, 403);
  assert.equal(again.body.type, 'https://sealkeep.dev/problems/enrollment-refused');
});

test('an expired or unknown code gets the same refusal', async () => {
  const { body } = await createTenant('globex');
  await store.db('enrollment_codes').where({ tenant_id: body.tenantId }).update({ expires_at: new Date(Date.now() - 1000) });
  for (const code of [body.enrollment.code, `skenroll_${'A'.repeat(43)}`]) {
    const res = await enroll(newKeyPair('ed25519').privateKey, code);
    assert.equal(res.status, 403);
    assert.equal(res.body.detail, undefined, 'no hint which case it was');
  }
});

test("a code bound to the officer's key thumbprint cannot be used by anyone else, the cloud-admin included", async () => {
  const officer = newKeyPair('ec', { namedCurve: 'P-256' });
  const { body } = await createTenant('initech', { officerKeyThumbprint: jwkThumbprint(publicJwk(officer.publicKey)) });
  assert.equal((await enroll(operator.key.privateKey, body.enrollment.code, 'ops-impostor')).status, 403);
  assert.equal((await enroll(officer.privateKey, body.enrollment.code)).status, 201);
});

test('the enrollment proof must be signed by the key it presents, over this body', async () => {
  const { body } = await createTenant('hooli');
  const key = newKeyPair('ed25519').privateKey;
  const payload = JSON.stringify({ code: body.enrollment.code, name: 'bob' });
  const forged = await request(tenantApp)
    .post('/v1/enroll')
    .set('content-type', 'application/json')
    .set('authorization', selfSignedAuthorizationHeader({ key, method: 'POST', url: '/v1/enroll', body: JSON.stringify({ code: body.enrollment.code, name: 'eve' }) }))
    .send(payload);
  assert.equal(forged.status, 401);
  assert.match(forged.body.detail, /body does not match/);
});

test('tenant names are unique; only the cloud-admin creates and lists tenants', async () => {
  assert.equal((await createTenant('acme')).status, 409);
  const list = await request(adminApp)
    .get('/v1/tenants')
    .set('authorization', authorizationHeader({ key: operator.key.privateKey, principalId: operator.id, method: 'GET', url: '/v1/tenants' }));
  assert.deepEqual(list.body.map((t: { name: string }) => t.name).sort(), ['acme', 'globex', 'hooli', 'initech']);
});

// Signed requests end to end through a listener and the store: GET /v1/self answers the
// principal that signed it, on every plane; the same proof sent again is refused; an unsigned
// request is 401; a proof over another body is 401.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../../server.js';
import { insertPrincipal } from './store.js';

let store: Store;
let tenantApp: Parameters<typeof request>[0];
let adminApp: Parameters<typeof request>[0];
const tenantId = randomUUID();
const officer = { id: randomUUID(), key: newKeyPair('ec', { namedCurve: 'P-256' }) };
const operator = { id: randomUUID(), key: newKeyPair('ed25519') };

before(async () => {
  store = await freshStore();
  await store.db('tenants').insert({ tenant_id: tenantId, name: `acme-${tenantId}` });
  for (const [p, name, role, tenant] of [[officer, 'alice', 'tenant-admin', tenantId], [operator, 'ops', 'cloud-admin', null]] as const) {
    const jwk = publicJwk(p.key.publicKey);
    await insertPrincipal(store.db, { principal_id: p.id, tenant_id: tenant, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  }
  [tenantApp, adminApp] = buildListeners({ store }, [["tenant"], ["admin", "compliance"]]) as unknown as [typeof tenantApp, typeof adminApp];
});
after(() => store.close());

const sign = (p: typeof officer | typeof operator, url = '/v1/self') =>
  authorizationHeader({ key: p.key.privateKey, principalId: p.id, method: 'GET', url });

test('a signed GET /v1/self answers the signer; the same proof again is a replay', async () => {
  const auth = sign(officer);
  const res = await request(tenantApp).get('/v1/self').set('authorization', auth);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { principalId: officer.id, name: 'alice', role: 'tenant-admin', tenantId });
  const again = await request(tenantApp).get('/v1/self').set('authorization', auth);
  assert.equal(again.status, 401);
  assert.match(again.body.detail, /replay/);
});

test('the cloud-admin is known on the admin listener', async () => {
  const res = await request(adminApp).get('/v1/self').set('authorization', sign(operator));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.role, 'cloud-admin');
  assert.equal(res.body.tenantId, null);
});

test('unsigned, or signed for another path, is 401 with a problem saying why', async () => {
  const none = await request(tenantApp).get('/v1/self');
  assert.equal(none.status, 401);
  assert.equal(none.body.type, 'https://sealkeep.dev/problems/unauthenticated');
  const other = await request(tenantApp).get('/v1/self').set('authorization', sign(officer, '/v1/self?x=1'));
  assert.equal(other.status, 401);
  assert.match(other.body.detail, /another path or query/);
});

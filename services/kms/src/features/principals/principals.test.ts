// Principal administration end to end: the tenant's officer enrolls principals with their public
// keys, lists and revokes them; a revoked principal's next request is 401; the last active
// tenant-admin cannot be revoked, even by two officers revoking each other at once; a cloud-admin
// does the same for the provider's operators. Every change is in the side's audit chain, with the
// key's thumbprint and never the key.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, type KeyObject } from 'node:crypto';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { asProvider, inTenant } from '@sealkeep/store';
import { exportChain, PROVIDER_CHAIN, type AuditActor } from '../../audit/audit-log.js';
import { apiFixture, type ApiFixture, type Caller } from '../quotas/api.fixture.js';
import { PROVIDER_SIDE, revokePrincipal, tenantSide } from './service.js';

let f: ApiFixture;
before(async () => {
  f = await apiFixture();
});
after(() => f.store.close());

const principals = (tenantId: string) => `/v1/tenants/${tenantId}/principals`;
const revoke = (tenantId: string, id: string) => `/v1/tenants/${tenantId}/principals/${id}/revoke`;

function newKey(kind: 'ec' | 'ed25519' = 'ec'): { privateKey: KeyObject; publicKey: KeyObject } {
  return kind === 'ec' ? newKeyPair('ec', { namedCurve: 'P-256' }) : newKeyPair('ed25519');
}

async function tenantEntries(tenantId: string) {
  return (await inTenant(f.store.db, tenantId, (trx) => exportChain(trx, tenantId))).map((l) => JSON.parse(l));
}

test("the officer enrolls a tenant-user, who then signs requests as themself; the audit holds the key's thumbprint only", async () => {
  const { tenantId, officer } = await f.newTenant();
  const bob = newKey('ec');
  const jwk = publicJwk(bob.publicKey);
  const res = await f.call(f.tenantApp, officer, 'post', principals(tenantId), { name: 'bob', role: 'tenant-user', publicJwk: jwk });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.role, 'tenant-user');
  assert.equal(res.body.status, 'active');
  assert.equal(res.body.keyThumbprint, jwkThumbprint(jwk));
  const self = await f.call(f.tenantApp, { id: res.body.principalId, key: bob.privateKey }, 'get', '/v1/self');
  assert.deepEqual(self.body, { principalId: res.body.principalId, name: 'bob', role: 'tenant-user', tenantId });

  const list = await f.call(f.tenantApp, officer, 'get', principals(tenantId));
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.body.map((p: { name: string; role: string }) => [p.name, p.role]), [['alice', 'tenant-admin'], ['bob', 'tenant-user']]);

  const entry = (await tenantEntries(tenantId)).find((e) => e.action === 'principal.enroll');
  assert.equal(entry.principal, 'tn:alice');
  assert.deepEqual(entry.details, { principalId: res.body.principalId, role: 'tenant-user', keyFingerprint: jwkThumbprint(jwk) });
  assert.ok(!JSON.stringify(entry).includes(jwk.x!), 'no key material in the audit');
});

test('enrollment refuses private keys, other curves, bad points, provider roles and duplicates', async () => {
  const { tenantId, officer } = await f.newTenant();
  const key = newKey('ed25519');
  const jwk = publicJwk(key.publicKey);
  const enroll = (body: unknown) => f.call(f.tenantApp, officer, 'post', principals(tenantId), body);
  const p384 = newKeyPair('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  const cases: Array<[string, unknown]> = [
    ['a private key', { name: 'carol', role: 'tenant-user', publicJwk: key.privateKey.export({ format: 'jwk' }) }],
    ['P-384', { name: 'carol', role: 'tenant-user', publicJwk: p384 }],
    ['a point off the curve', { name: 'carol', role: 'tenant-user', publicJwk: { ...publicJwk(newKey('ec').publicKey), y: jwk.x } }],
    ['a provider role', { name: 'carol', role: 'cloud-admin', publicJwk: jwk }],
    ['a hypervisor', { name: 'carol', role: 'hypervisor', publicJwk: jwk }],
  ];
  for (const [what, body] of cases) assert.equal((await enroll(body)).status, 400, what);
  assert.equal((await enroll({ name: 'carol', role: 'delegate', publicJwk: jwk })).status, 201);
  const sameKey = await enroll({ name: 'dave', role: 'tenant-user', publicJwk: jwk });
  assert.equal(sameKey.status, 409, sameKey.text);
  const sameName = await enroll({ name: 'carol', role: 'tenant-user', publicJwk: publicJwk(newKey().publicKey) });
  assert.equal(sameName.status, 409, sameName.text);
});

test("a revoked principal's next request is refused with 401; revocation is audited; revoking again is 409", async () => {
  const { tenantId, officer } = await f.newTenant();
  const bob = newKey('ed25519');
  const enrolled = await f.call(f.tenantApp, officer, 'post', principals(tenantId), { name: 'bob', role: 'tenant-user', publicJwk: publicJwk(bob.publicKey) });
  const asBob: Caller = { id: enrolled.body.principalId, key: bob.privateKey };
  assert.equal((await f.call(f.tenantApp, asBob, 'get', '/v1/self')).status, 200);

  const revoked = await f.call(f.tenantApp, officer, 'post', revoke(tenantId, asBob.id));
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.body.status, 'revoked');
  assert.ok(Date.parse(revoked.body.revokedAt) > 0);
  const refused = await f.call(f.tenantApp, asBob, 'get', '/v1/self');
  assert.equal(refused.status, 401);
  assert.match(refused.body.detail, /revoked/);

  assert.equal((await f.call(f.tenantApp, officer, 'post', revoke(tenantId, asBob.id))).status, 409);
  const list = await f.call(f.tenantApp, officer, 'get', principals(tenantId));
  assert.deepEqual(list.body.map((p: { name: string; status: string }) => [p.name, p.status]), [['alice', 'active'], ['bob', 'revoked']]);
  const entry = (await tenantEntries(tenantId)).find((e) => e.action === 'principal.revoke');
  assert.deepEqual(entry.details, { principalId: asBob.id, role: 'tenant-user', keyFingerprint: jwkThumbprint(publicJwk(bob.publicKey)) });
});

test("another tenant's principal is not found through this tenant's path", async () => {
  const a = await f.newTenant();
  const b = await f.newTenant();
  const res = await f.call(f.tenantApp, a.officer, 'post', revoke(a.tenantId, b.officer.id));
  assert.equal(res.status, 404);
  assert.equal((await f.call(f.tenantApp, b.officer, 'get', '/v1/self')).status, 200);
  assert.equal((await f.call(f.tenantApp, a.officer, 'post', revoke(a.tenantId, randomUUID()))).status, 404);
});

test('the last active tenant-admin cannot revoke themself; with a second officer they can', async () => {
  const { tenantId, officer } = await f.newTenant();
  const last = await f.call(f.tenantApp, officer, 'post', revoke(tenantId, officer.id));
  assert.equal(last.status, 409);
  assert.match(last.body.detail, /last active tenant-admin/);
  const bob = newKey();
  await f.call(f.tenantApp, officer, 'post', principals(tenantId), { name: 'bob', role: 'tenant-admin', publicJwk: publicJwk(bob.publicKey) });
  assert.equal((await f.call(f.tenantApp, officer, 'post', revoke(tenantId, officer.id))).status, 200);
  assert.equal((await f.call(f.tenantApp, officer, 'get', principals(tenantId))).status, 401);
});

test('two officers revoking each other at once: exactly one succeeds, one tenant-admin remains (several rounds)', async () => {
  const actor = (name: string): AuditActor => ({ plane: 'tenant', principal: `tn:${name}`, actorChain: [`tn:${name}`], requestId: randomUUID() });
  for (let round = 0; round < 6; round++) {
    const { tenantId, officer } = await f.newTenant();
    const bob = await f.addPrincipal(tenantId, 'bob', 'tenant-admin');
    const side = tenantSide(tenantId);
    const outcomes = await Promise.allSettled([
      revokePrincipal(f.store.db, actor('alice'), side, bob.id),
      revokePrincipal(f.store.db, actor('bob'), side, officer.id),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected'], `round ${round}`);
    const refusal = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!.reason;
    assert.equal(refusal.slug, 'conflict', String(refusal));
    const active = await inTenant(f.store.db, tenantId, (trx) => trx('principals').where({ role: 'tenant-admin', status: 'active' }).pluck('name'));
    assert.equal(active.length, 1);
  }
});

test('a cloud-admin adds, lists and revokes operators; the last cloud-admin stays; all in the provider chain', async () => {
  const rv = newKey('ed25519');
  const added = await f.call(f.adminApp, f.operator, 'post', '/v1/operators', { name: 'rita', role: 'reviewer', publicJwk: publicJwk(rv.publicKey) });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.body.tenantId, null);
  const rita: Caller = { id: added.body.principalId, key: rv.privateKey };
  assert.equal((await f.call(f.adminApp, rita, 'get', '/v1/self')).body.role, 'reviewer');
  for (const role of ['tenant-admin', 'hypervisor']) {
    const res = await f.call(f.adminApp, f.operator, 'post', '/v1/operators', { name: `x-${role}`, role, publicJwk: publicJwk(newKey().publicKey) });
    assert.equal(res.status, 400, role);
  }
  const list = await f.call(f.adminApp, f.operator, 'get', '/v1/operators');
  assert.deepEqual(list.body.map((p: { name: string; role: string }) => [p.name, p.role]), [['ops', 'cloud-admin'], ['rita', 'reviewer']]);

  assert.equal((await f.call(f.adminApp, f.operator, 'post', `/v1/operators/${rita.id}/revoke`)).status, 200);
  assert.equal((await f.call(f.adminApp, rita, 'get', '/v1/self')).status, 401);
  const lastAdmin = await f.call(f.adminApp, f.operator, 'post', `/v1/operators/${f.operator.id}/revoke`);
  assert.equal(lastAdmin.status, 409);
  assert.match(lastAdmin.body.detail, /last active cloud-admin/);
  // A tenant's principal is not an operator.
  const { officer } = await f.newTenant();
  assert.equal((await f.call(f.adminApp, f.operator, 'post', `/v1/operators/${officer.id}/revoke`)).status, 404);

  const actions = (await asProvider(f.store.db, (trx) => exportChain(trx, PROVIDER_CHAIN))).map((l) => JSON.parse(l)).map((e) => [e.action, e.principal, e.details.role]);
  assert.deepEqual(actions.filter(([a]) => String(a).startsWith('operator.')), [['operator.enroll', 'ca:ops', 'reviewer'], ['operator.revoke', 'ca:ops', 'reviewer']]);
  assert.equal(PROVIDER_SIDE.adminRole, 'cloud-admin');
});

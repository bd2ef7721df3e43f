// Token exchange end to end (POST /v1/token): tn:bob's grant → cms:vcloud-svc → hv:vpxuser@host-07,
// each hop a delegation token bound to the holder's key with the chain in nested act claims and
// an audit entry in bob's tenant chain. Refused, with an OAuth error and no token contents in the
// answer: forged, altered or expired grants and tokens, a second exchange of one token, a delegate
// of another tenant, an actor the token does not name, a widened scope, a grant type or token type
// the endpoint does not take. The form body: only application/x-www-form-urlencoded, its bytes
// covered by the request proof.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { signJws } from '@sealkeep/crypto';
import { authorizationHeader } from '@sealkeep/sdk';
import { inTenant } from '@sealkeep/store';
import { verifyAuditLog } from '@sealkeep/attestation';
import { exportChain } from '../../audit/audit-log.js';
import { deriveTokenKey } from '../../auth/token-key.js';
import { PROBLEM_BASE } from '../../http/problems.js';
import { issueDelegationToken } from './service-token.js';
import { castOf, claimsOf, delegationWorld, exchange, formOf, grantBy, type Party, type World } from './delegation.fixture.js';

let w: World;
let bob: Party, cms: Party, cmsGlobex: Party, hv: Party, hv8: Party;

before(async () => {
  w = await delegationWorld();
  // cmsGlobex: the same name in another tenant — the same label, another principal.
  ({ bob, cms, cmsGlobex, hv, hv8 } = await castOf(w));
});
after(() => w.store.close());

/** Asserts an OAuth refusal and that its answer repeats no part of `tokens`. */
function refused(res: request.Response, error: string, detail: RegExp, ...tokens: string[]): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.type, `${PROBLEM_BASE}token-exchange-refused`);
  assert.equal(res.body.error, error);
  assert.match(res.body.detail, detail);
  for (const t of tokens) for (const part of t.split('.')) assert.ok(!res.text.includes(part), 'the refusal echoes the token');
}

const auditEntries = async () => (await inTenant(w.store.db, w.acme, (trx) => exportChain(trx, w.acme))).map((l) => JSON.parse(l));

test('two hops: tn:bob → cms:vcloud-svc → hv:vpxuser@host-07, each bound to its holder and audited with its chain', async () => {
  const grant = grantBy(bob, { scope: 'key.use' });
  const first = await exchange(w.tenantApp, cms, { subject_token: grant, next_actor: hv.label });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers['cache-control'], 'no-store');
  assert.equal(first.body.issued_token_type, 'urn:ietf:params:oauth:token-type:jwt');
  assert.equal(first.body.token_type, 'N_A');
  assert.ok(first.body.expires_in > 0 && first.body.expires_in <= 300);
  assert.equal(first.body.scope, 'key.use');
  const t1 = claimsOf(first.body.access_token);
  assert.equal(t1.iss, 'sealkeep');
  assert.equal(t1.sub, 'tn:bob');
  assert.equal(t1.sub_id, bob.id);
  assert.equal(t1.tenant, w.acme);
  assert.deepEqual(t1.act, { sub: 'cms:vcloud-svc' });
  assert.deepEqual(t1.cnf, { jkt: cms.thumbprint });
  assert.deepEqual(t1.may_act, { sub: 'hv:vpxuser@host-07' });

  const second = await exchange(w.dataApp, hv, { subject_token: first.body.access_token });
  assert.equal(second.status, 200, second.text);
  const t2 = claimsOf(second.body.access_token);
  assert.equal(t2.sub, 'tn:bob');
  assert.deepEqual(t2.act, { sub: 'hv:vpxuser@host-07', act: { sub: 'cms:vcloud-svc' } });
  assert.deepEqual(t2.cnf, { jkt: hv.thumbprint });
  assert.equal(t2.may_act, undefined, 'no next hop was named');
  assert.equal(t2.scope, 'key.use');
  assert.ok((t2.exp as number) <= (t1.exp as number), 'a later hop never outlives the earlier');

  const exchanges = (await auditEntries()).filter((e) => e.action === 'token.exchange');
  assert.deepEqual(exchanges.map((e) => e.actorChain), [['tn:bob', 'cms:vcloud-svc'], ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07']]);
  assert.deepEqual(exchanges.map((e) => [e.principal, e.plane, e.resource]), [['cms:vcloud-svc', 'tenant', 'principal:bob'], ['hv:vpxuser@host-07', 'data', 'principal:bob']]);
  const lines = await inTenant(w.store.db, w.acme, (trx) => exportChain(trx, w.acme));
  for (const token of [grant, first.body.access_token, second.body.access_token]) {
    for (const part of token.split('.')) assert.ok(!lines.some((l) => l.includes(part)), 'no token reaches the audit trail');
  }
  assert.equal(verifyAuditLog(lines).findings.filter((f) => f.severity !== 'warning').length, 0);
});

test('a forged grant is refused: signed by another key, or its payload altered', async () => {
  const forged = signJws(hv8.key, { typ: 'sealkeep-grant+jwt', kid: bob.id }, claimsOf(grantBy(bob)));
  refused(await exchange(w.tenantApp, cms, { subject_token: forged }), 'invalid_grant', /not signed by the user/, forged);

  const [header, , signature] = grantBy(bob, { scope: 'key.use' }).split('.');
  const widened = Buffer.from(JSON.stringify({ ...claimsOf(grantBy(bob)), scope: 'key.use vm.register' })).toString('base64url');
  const altered = `${header}.${widened}.${signature}`;
  refused(await exchange(w.tenantApp, cms, { subject_token: altered }), 'invalid_grant', /not signed by the user/, altered);
});

test('a delegation token signed by another key is refused', async () => {
  const otherKey = deriveTokenKey(randomBytes(32));
  const { token } = issueDelegationToken(
    otherKey,
    { chain: ['tn:bob', 'cms:vcloud-svc'], subjectId: bob.id, tenantId: w.acme, holderKeyThumbprint: cms.thumbprint, mayAct: hv.label, scope: null, exp: Math.floor(Date.now() / 1000) + 200 },
    new Date(),
  );
  refused(await exchange(w.dataApp, hv, { subject_token: token }), 'invalid_grant', /not signed by this service/, token);
});

test('an expired grant and an expired delegation token are refused; a grant lives at most an hour', async () => {
  const now = Math.floor(Date.now() / 1000);
  const stale = grantBy(bob, { iat: now - 700, ttlSeconds: 600 });
  refused(await exchange(w.tenantApp, cms, { subject_token: stale }), 'invalid_grant', /expired/, stale);

  const long = signJws(bob.key, { typ: 'sealkeep-grant+jwt', kid: bob.id }, { ...claimsOf(grantBy(bob)), exp: now + 3601, iat: now });
  refused(await exchange(w.tenantApp, cms, { subject_token: long }), 'invalid_grant', /at most 3600 s/, long);

  const { token } = issueDelegationToken(
    w.tokenKey,
    { chain: ['tn:bob', 'cms:vcloud-svc'], subjectId: bob.id, tenantId: w.acme, holderKeyThumbprint: cms.thumbprint, mayAct: hv.label, scope: null, exp: now - 1 },
    new Date((now - 100) * 1000),
  );
  refused(await exchange(w.dataApp, hv, { subject_token: token }), 'invalid_grant', /expired/, token);
});

test('a grant, and a delegation token, is good for one exchange', async () => {
  const grant = grantBy(bob, { to: cms.label });
  const first = await exchange(w.tenantApp, cms, { subject_token: grant, next_actor: hv.label });
  assert.equal(first.status, 200, first.text);
  refused(await exchange(w.tenantApp, cms, { subject_token: grant }), 'invalid_grant', /already exchanged/, grant);
  assert.equal((await exchange(w.dataApp, hv, { subject_token: first.body.access_token })).status, 200);
  refused(await exchange(w.dataApp, hv, { subject_token: first.body.access_token }), 'invalid_grant', /already exchanged/);
});

test("a delegate of another tenant cannot exchange a grant, though its label is the one named; the grant stays unspent", async () => {
  const grant = grantBy(bob);
  refused(await exchange(w.tenantApp, cmsGlobex, { subject_token: grant }), 'invalid_grant', /another tenant/, grant);
  assert.equal((await exchange(w.tenantApp, cms, { subject_token: grant })).status, 200);
});

test('only the actor named in may_act may exchange, and a token naming no one cannot be exchanged', async () => {
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob, { to: 'cms:other-svc' }) }), 'invalid_grant', /names another actor/);
  const first = await exchange(w.tenantApp, cms, { subject_token: grantBy(bob), next_actor: hv.label });
  refused(await exchange(w.dataApp, hv8, { subject_token: first.body.access_token }), 'invalid_grant', /names another actor/, first.body.access_token);
  const last = await exchange(w.tenantApp, cms, { subject_token: grantBy(bob) });
  refused(await exchange(w.dataApp, hv, { subject_token: last.body.access_token }), 'invalid_grant', /may not be exchanged further/);
});

test("a scope may only narrow, and a grant's scope only name what its user holds", async () => {
  const narrowed = await exchange(w.tenantApp, cms, { subject_token: grantBy(bob, { scope: 'key.use vm.register' }), scope: 'vm.register', next_actor: hv.label });
  assert.equal(narrowed.status, 200, narrowed.text);
  assert.equal(narrowed.body.scope, 'vm.register');
  refused(await exchange(w.dataApp, hv, { subject_token: narrowed.body.access_token, scope: 'vm.register key.use' }), 'invalid_scope', /wider/);
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob, { scope: 'key.use' }), scope: 'key.use vm.register' }), 'invalid_scope', /wider/);
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob, { scope: 'key.import' }) }), 'invalid_scope', /does not hold/);
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob), scope: 'key.use no.such' }), 'invalid_scope', /unknown permission/);
});

test('the grant type and token types are checked; each caller exchanges on its own plane', async () => {
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob), grant_type: 'client_credentials' }), 'unsupported_grant_type', /grant_type/);
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob), subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request', /subject_token_type/);
  refused(await exchange(w.tenantApp, cms, { subject_token: grantBy(bob), subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }), 'invalid_grant', /typ/);
  refused(await exchange(w.tenantApp, hv, { subject_token: grantBy(bob, { to: hv.label }) }), 'invalid_request', /data plane/);
});

test('the user of a grant must still be active', async () => {
  const carol = await w.add('carol', 'tenant-user', w.acme);
  const grant = grantBy(carol);
  await w.store.db('principals').where({ principal_id: carol.id }).update({ status: 'revoked' });
  refused(await exchange(w.tenantApp, cms, { subject_token: grant }), 'invalid_grant', /may not delegate/);
});

test('the form body: only application/x-www-form-urlencoded, its bytes covered by the request proof', async () => {
  const body = formOf({ subject_token: grantBy(bob) });
  const sign = (b: string) => authorizationHeader({ key: cms.key, principalId: cms.id, method: 'POST', url: '/v1/token', body: b });
  const json = JSON.stringify(Object.fromEntries(new URLSearchParams(body)));
  const asJson = await request(w.tenantApp).post('/v1/token').set('content-type', 'application/json').set('authorization', sign(json)).send(json);
  assert.equal(asJson.status, 415);
  assert.equal(asJson.body.type, `${PROBLEM_BASE}unsupported-media-type`);

  // A proof made for one form does not carry another: the hash is over the bytes as sent.
  const other = formOf({ subject_token: grantBy(bob), scope: 'key.use' });
  const swapped = await request(w.tenantApp).post('/v1/token').set('content-type', 'application/x-www-form-urlencoded').set('authorization', sign(body)).send(other);
  assert.equal(swapped.status, 401);
  assert.match(swapped.body.detail, /body does not match/);

  const padded = `${body}&${Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&')}`;
  const tooMany = await request(w.tenantApp).post('/v1/token').set('content-type', 'application/x-www-form-urlencoded').set('authorization', sign(padded)).send(padded);
  assert.equal(tooMany.status, 413);

  const unknownField = `${body}&audience=${randomUUID()}`;
  const strict = await request(w.tenantApp).post('/v1/token').set('content-type', 'application/x-www-form-urlencoded').set('authorization', sign(unknownField)).send(unknownField);
  assert.equal(strict.status, 400);
  assert.equal(strict.body.type, `${PROBLEM_BASE}validation-failed`);
});

// Using a delegation token: the holder's own request proof plus `Sealkeep-Delegation`. The
// request acts in the subject's tenant, within the token's scope, and its audit entry records the
// whole chain. Refused: a token with another principal's proof (cnf), a token signed by another
// key or expired (401), a resource of another tenant or a permission outside the scope (403), a
// revoked holder (its proof fails) or subject. No service route yet writes an audit entry for a
// delegate or a hypervisor besides the exchange itself, so two test routes (one per plane) stand in
// for key use and block crypto, mounted through the service's own pipeline and authenticator.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { z } from 'zod';
import { inTenant } from '@sealkeep/store';
import { authorizationHeader } from '@sealkeep/sdk';
import { appendAudit, exportChain } from '../../audit/audit-log.js';
import { withDelegation } from '../../auth/delegation.js';
import { verifyRequestProof } from '../../auth/request-proof.js';
import { deriveTokenKey } from '../../auth/token-key.js';
import { mountListener, signedPartsOf } from '../../http/mount.js';
import { route } from '../../http/route.js';
import { issueDelegationToken } from './service-token.js';
import { castOf, delegated, delegationWorld, exchange, grantBy, type App, type Party, type World } from './delegation.fixture.js';

let w: World;
let bob: Party, cms: Party, cmsGlobex: Party, hv: Party, hv8: Party;
let tenantTestApp: App, dataTestApp: App;

/** Audits a change in the tenant acted for, as a real route of that plane would. */
function auditedRoute(plane: 'tenant' | 'data', path: string, permission: 'key.use' | 'block.crypt') {
  return route({
    method: 'post',
    path,
    plane,
    permission,
    summary: `test: an audited ${permission}`,
    body: z.strictObject({ resource: z.string() }),
    handler: async ({ principal, actor, body }) => {
      const tenantId = principal!.delegation?.tenantId ?? principal!.tenantId!;
      const entry = await inTenant(w.store.db, tenantId, (trx) => appendAudit(trx, actor!, { tenantId, action: permission, resource: body.resource, outcome: 'success' }));
      return { actorChain: entry.actorChain, principal: entry.principal };
    },
  });
}

before(async () => {
  w = await delegationWorld();
  ({ bob, cms, cmsGlobex, hv, hv8 } = await castOf(w));
  const authenticate = withDelegation((req) => verifyRequestProof(w.store.db, signedPartsOf(req)), w.store.db, w.tokenKey);
  const routes = [
    auditedRoute('tenant', '/v1/tenants/:tenantId/test-key-uses', 'key.use'),
    auditedRoute('data', '/v1/test-block-crypts', 'block.crypt'),
    auditedRoute('data', '/v1/tenants/:tenantId/test-block-crypts', 'block.crypt'),
  ];
  [tenantTestApp, dataTestApp] = (['tenant', 'data'] as const).map((plane) => mountListener({ planes: [plane], routes, authenticate, onInternalError: (e) => console.error(e) })) as unknown as [App, App];
});
after(() => w.store.close());

/** bob → cms (→ hv when `toHypervisor`): the holder's token. */
async function chain(opts: { scope?: string; toHypervisor?: boolean } = {}): Promise<string> {
  const grant = grantBy(bob, opts.scope ? { scope: opts.scope } : {});
  const first = await exchange(w.tenantApp, cms, { subject_token: grant, ...(opts.toHypervisor ? { next_actor: hv.label } : {}) });
  assert.equal(first.status, 200, first.text);
  if (!opts.toHypervisor) return first.body.access_token;
  const second = await exchange(w.dataApp, hv, { subject_token: first.body.access_token });
  assert.equal(second.status, 200, second.text);
  return second.body.access_token;
}

const keyUse = (tenantId: string) => `/v1/tenants/${tenantId}/test-key-uses`;

test("the hypervisor's delegated request is audited with the whole chain: tn:bob > cms:vcloud-svc > hv:vpxuser@host-07", async () => {
  const token = await chain({ toHypervisor: true });
  const res = await delegated(dataTestApp, hv, token, 'post', '/v1/test-block-crypts', { resource: 'volume:vol-1' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { actorChain: ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07'], principal: 'hv:vpxuser@host-07' });
  const entries = (await inTenant(w.store.db, w.acme, (trx) => exportChain(trx, w.acme))).map((l) => JSON.parse(l));
  const used = entries.find((e) => e.action === 'block.crypt');
  assert.deepEqual(used.actorChain, ['tn:bob', 'cms:vcloud-svc', 'hv:vpxuser@host-07']);
  assert.equal(used.tenantId, w.acme);
  // The same token works on the service's own routes too.
  const self = await delegated(w.dataApp, hv, token, 'get', '/v1/self');
  assert.equal(self.status, 200, self.text);
});

test('the delegate acts in its subject\'s tenant with the chain; without the header nothing changes', async () => {
  const token = await chain();
  const res = await delegated(tenantTestApp, cms, token, 'post', keyUse(w.acme), { resource: 'key:db' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.actorChain, ['tn:bob', 'cms:vcloud-svc']);
  const body = JSON.stringify({ resource: 'key:db' });
  const direct = await request(tenantTestApp)
    .post(keyUse(w.acme))
    .set('content-type', 'application/json')
    .set('authorization', authorizationHeader({ key: cms.key, principalId: cms.id, method: 'POST', url: keyUse(w.acme), body }))
    .send(body);
  assert.equal(direct.status, 200, direct.text);
  assert.deepEqual(direct.body.actorChain, ['cms:vcloud-svc']);
});

test("a delegation token is useless with another principal's proof, even one with the same label", async () => {
  const token = await chain({ toHypervisor: true });
  for (const [app, who, url] of [[dataTestApp, hv8, '/v1/test-block-crypts'], [tenantTestApp, cmsGlobex, keyUse(w.acme)], [tenantTestApp, cms, keyUse(w.acme)]] as const) {
    const res = await delegated(app, who, token, 'post', url, { resource: 'x' });
    assert.equal(res.status, 401, `${who.label}: ${res.text}`);
    assert.match(res.body.detail, /bound to another key/);
    assert.ok(!res.text.includes(token.split('.')[1]!));
  }
});

test('a delegation token signed by another key, or expired, authenticates nothing', async () => {
  const now = Math.floor(Date.now() / 1000);
  const input = { chain: ['tn:bob', 'cms:vcloud-svc'], subjectId: bob.id, tenantId: w.acme, holderKeyThumbprint: cms.thumbprint, mayAct: null, scope: null };
  const forged = issueDelegationToken(deriveTokenKey(randomBytes(32)), { ...input, exp: now + 200 }, new Date()).token;
  const expired = issueDelegationToken(w.tokenKey, { ...input, exp: now - 1 }, new Date((now - 100) * 1000)).token;
  for (const [token, why] of [[forged, /not signed by this service/], [expired, /expired/]] as const) {
    const res = await delegated(tenantTestApp, cms, token, 'post', keyUse(w.acme), { resource: 'x' });
    assert.equal(res.status, 401);
    assert.match(res.body.detail, why);
  }
  const garbage = await delegated(tenantTestApp, cms, 'not-a-token', 'post', keyUse(w.acme), { resource: 'x' });
  assert.equal(garbage.status, 401);
});

test("a delegated request stays inside its subject's tenant (403) and its token's scope (403)", async () => {
  const token = await chain({ scope: 'vm.register' });
  const outside = await delegated(tenantTestApp, cms, token, 'post', keyUse(w.globex), { resource: 'x' });
  assert.equal(outside.status, 403);
  assert.match(outside.body.detail, /outside the delegation's tenant/);
  const outOfScope = await delegated(tenantTestApp, cms, token, 'post', keyUse(w.acme), { resource: 'x' });
  assert.equal(outOfScope.status, 403);
  assert.match(outOfScope.body.detail, /scope does not include key.use/);
  const inScope = await delegated(tenantTestApp, cms, await chain({ scope: 'key.use' }), 'post', keyUse(w.acme), { resource: 'x' });
  assert.equal(inScope.status, 200, inScope.text);

  // A hypervisor serves every tenant, but under a delegation only its subject's.
  const hvToken = await chain({ toHypervisor: true });
  const hvOutside = await delegated(dataTestApp, hv, hvToken, 'post', `/v1/tenants/${w.globex}/test-block-crypts`, { resource: 'x' });
  assert.equal(hvOutside.status, 403);
  assert.match(hvOutside.body.detail, /outside the delegation's tenant/);
  const hvInside = await delegated(dataTestApp, hv, hvToken, 'post', `/v1/tenants/${w.acme}/test-block-crypts`, { resource: 'x' });
  assert.equal(hvInside.status, 200, hvInside.text);
});

test("a revoked holder's token fails with its proof; a revoked subject's tokens fail too", async () => {
  const batch = await w.add('batch-svc', 'delegate', w.acme);
  const dave = await w.add('dave', 'tenant-user', w.acme);
  const first = await exchange(w.tenantApp, batch, { subject_token: grantBy(dave, { to: batch.label }) });
  assert.equal(first.status, 200, first.text);
  const token = first.body.access_token;
  assert.equal((await delegated(tenantTestApp, batch, token, 'post', keyUse(w.acme), { resource: 'x' })).status, 200);

  await w.store.db('principals').where({ principal_id: dave.id }).update({ status: 'revoked' });
  const subjectGone = await delegated(tenantTestApp, batch, token, 'post', keyUse(w.acme), { resource: 'x' });
  assert.equal(subjectGone.status, 401);
  assert.match(subjectGone.body.detail, /subject is no longer an active principal/);

  await w.store.db('principals').where({ principal_id: dave.id }).update({ status: 'active' });
  await w.store.db('principals').where({ principal_id: batch.id }).update({ status: 'revoked' });
  const holderGone = await delegated(tenantTestApp, batch, token, 'post', keyUse(w.acme), { resource: 'x' });
  assert.equal(holderGone.status, 401);
  assert.match(holderGone.body.detail, /revoked/);
});

test('a delegation token is sent as the subject token, not used to make an exchange', async () => {
  const token = await chain({ toHypervisor: false });
  const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: grantBy(bob), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }).toString();
  const res = await request(w.tenantApp)
    .post('/v1/token')
    .set('content-type', 'application/x-www-form-urlencoded')
    .set('authorization', authorizationHeader({ key: cms.key, principalId: cms.id, method: 'POST', url: '/v1/token', body: form }))
    .set('sealkeep-delegation', token)
    .send(form);
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'invalid_request');
});

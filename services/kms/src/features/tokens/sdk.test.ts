// The SDK over real HTTP: a user's grant (delegationGrant), two exchanges (exchangeToken, each in
// the caller's own name, the token type taken from the token), and a request made under the last
// token (a Signer with `delegation`) that the service answers as the hypervisor acting for bob.
// A refusal reaches the SDK as a SealkeepError carrying the problem and its OAuth error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delegationGrant, exchangeToken, SealkeepError, signedRequest } from '@sealkeep/sdk';
import { delegationWorld, type Party, type World } from './delegation.fixture.js';

let w: World;
let bob: Party, cms: Party, hv: Party;
const servers: Server[] = [];
let tenantUrl: string, dataUrl: string;

async function listen(app: unknown): Promise<string> {
  const server = (app as { listen(port: number, host: string): Server }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  w = await delegationWorld();
  bob = await w.add('bob', 'tenant-user', w.acme);
  cms = await w.add('vcloud-svc', 'delegate', w.acme);
  hv = await w.add('vpxuser@host-07', 'hypervisor', null);
  tenantUrl = await listen(w.tenantApp);
  dataUrl = await listen(w.dataApp);
});
after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await w.store.close();
});

test('grant, two exchanges and a delegated request through the SDK', async () => {
  const grant = delegationGrant({ key: bob.key, principalId: bob.id, tenantId: w.acme, to: cms.label, scope: ['self.read', 'key.use'], ttlSeconds: 120 });
  const first = await exchangeToken(tenantUrl, { principalId: cms.id, key: cms.key }, { subjectToken: grant, nextActor: hv.label });
  assert.equal(first.issuedTokenType, 'urn:ietf:params:oauth:token-type:jwt');
  assert.equal(first.scope, 'key.use self.read');
  assert.ok(first.expiresIn <= 120);
  // A signer that already holds a delegation still exchanges in its own name.
  const second = await exchangeToken(dataUrl, { principalId: hv.id, key: hv.key, delegation: 'ignored' }, { subjectToken: first.accessToken, scope: 'self.read' });
  assert.equal(second.scope, 'self.read');

  const self = (await signedRequest(dataUrl, { principalId: hv.id, key: hv.key, delegation: second.accessToken }, 'GET', '/v1/self')) as { name: string };
  assert.equal(self.name, 'vpxuser@host-07');

  await assert.rejects(
    () => exchangeToken(tenantUrl, { principalId: cms.id, key: cms.key }, { subjectToken: grant }),
    (e: unknown) => e instanceof SealkeepError && e.status === 400 && e.problem.error === 'invalid_grant' && /already exchanged/.test(e.detail ?? ''),
  );
  await assert.rejects(
    () => signedRequest(dataUrl, { principalId: cms.id, key: cms.key, delegation: second.accessToken }, 'GET', '/v1/self'),
    (e: unknown) => e instanceof SealkeepError && e.status === 401,
  );
});

test('the SDK refuses to make a grant longer than an hour', () => {
  assert.throws(() => delegationGrant({ key: bob.key, principalId: bob.id, tenantId: w.acme, to: cms.label, ttlSeconds: 3601 }), RangeError);
});

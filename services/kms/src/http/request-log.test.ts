// The request log names what happened — route pattern, status, principal, time — and can carry
// no secret: after a tenant is created and its officer enrolls, neither the enrollment code,
// nor any request proof, nor a private key, nor a query string appears in any log entry.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader, selfSignedAuthorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../server.js';
import { insertPrincipal } from '../features/principals/store.js';
import type { RequestLogEntry } from './mount.js';

let store: Store | undefined;
after(() => store?.close());

test('request log entries carry route, status and principal, and never a secret', async () => {
  store = await freshStore();
  const ops = { id: randomUUID(), key: newKeyPair('ed25519') };
  const jwk = publicJwk(ops.key.publicKey);
  await insertPrincipal(store.db, { principal_id: ops.id, tenant_id: null, name: 'ops', role: 'cloud-admin', public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
  const entries: RequestLogEntry[] = [];
  const [tenantApp, adminApp] = buildListeners({ store, onRequest: (e) => entries.push(e) }, [['tenant'], ['admin']]) as unknown as [Parameters<typeof request>[0], Parameters<typeof request>[0]];

  const body = JSON.stringify({ name: 'acme' });
  const createAuth = authorizationHeader({ key: ops.key.privateKey, principalId: ops.id, method: 'POST', url: '/v1/tenants', body });
  const created = await request(adminApp).post('/v1/tenants').set('content-type', 'application/json').set('authorization', createAuth).send(body);
  const code: string = created.body.enrollment.code;
  const officer = newKeyPair('ec', { namedCurve: 'P-256' });
  const enrollBody = JSON.stringify({ code, name: 'alice' });
  const enrollAuth = selfSignedAuthorizationHeader({ key: officer.privateKey, method: 'POST', url: '/v1/enroll', body: enrollBody });
  await request(tenantApp).post('/v1/enroll').set('content-type', 'application/json').set('authorization', enrollAuth).send(enrollBody);
  await request(adminApp).get('/v1/tenants?secret=hunter2');

  const logged = JSON.stringify(entries);
  for (const secret of [code, createAuth.split(' ')[1]!, enrollAuth.split(' ')[1]!, officer.privateKey.export({ format: 'jwk' }).d!, 'hunter2']) {
    assert.ok(!logged.includes(secret), `a secret reached the log: ${secret.slice(0, 12)}…`);
  }
  assert.deepEqual(
    entries.map((e) => [e.method, e.route, e.status, e.principal]),
    [
      ['POST', '/v1/tenants', 201, 'ca:ops'],
      ['POST', '/v1/enroll', 201, null],
      ['GET', '/v1/tenants', 401, null],
    ],
  );
  assert.ok(entries.every((e) => e.ms >= 0 && /^[\w-]+$/.test(e.requestId)));
});

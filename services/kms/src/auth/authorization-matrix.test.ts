// The authorization matrix: every route of the service, called as every role, for its own and
// for another tenant, answers exactly what the permission table says. Denials are 403 before
// any validation; allowed calls may fail later (400, 404) but never as unauthenticated or
// forbidden. New routes join the matrix by being in the route table.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, type KeyObject } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners, routeTable } from '../server.js';
import { insertPrincipal } from '../features/principals/store.js';
import { attestedHostFor } from '../features/hosts/hosts.fixture.js';
import { PLANE_NAMES } from '../http/route.js';
import { ROLES, roleHolds, TENANT_ROLES, type Role } from './permissions.js';

let store: Store;
const own = randomUUID();
const other = randomUUID();
const principals = new Map<Role, { id: string; key: KeyObject }>();

before(async () => {
  store = await freshStore();
  await store.db('tenants').insert([
    { tenant_id: own, name: `own-${own}` },
    { tenant_id: other, name: `other-${other}` },
  ]);
  for (const role of ROLES) {
    const { privateKey, publicKey } = newKeyPair('ed25519');
    const jwk = publicJwk(publicKey);
    const id = randomUUID();
    await insertPrincipal(store.db, { principal_id: id, tenant_id: TENANT_ROLES.has(role) ? own : null, name: `${role}-1`, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
    principals.set(role, { id, key: privateKey });
  }
  // The hypervisor acts only while its host's attestation holds: give it an attested host.
  await attestedHostFor(store.db, principals.get('hypervisor')!.id, 'matrix-host');
});
after(() => store.close());

/** A concrete URL for a route pattern: the tenant given, any other parameter a fresh uuid. */
function urlFor(pattern: string, tenantId: string): string {
  return pattern.replace(/:([A-Za-z_]\w*)/g, (_m, name: string) => (name === 'tenantId' ? tenantId : randomUUID()));
}

test('every route × every role × own and other tenant answers as the permission table says', async () => {
  const apps = Object.fromEntries(PLANE_NAMES.map((plane, i) => [plane, buildListeners({ store }, PLANE_NAMES.map((p) => [p]))[i]]));
  const routes = routeTable({ store }).filter((r) => r.permission !== 'public');
  assert.ok(routes.length >= 5, 'the matrix covers the service’s routes');
  const mismatches: string[] = [];
  let calls = 0;
  for (const route of routes) {
    const scoped = route.path.includes(':tenantId');
    for (const role of ROLES) {
      for (const target of scoped ? (['own', 'other'] as const) : (['own'] as const)) {
        const url = urlFor(route.path, target === 'own' ? own : other);
        const who = principals.get(role)!;
        const form = route.bodyType === 'form';
        const body = route.body ? (form ? 'grant_type=' : route.bodyType === 'binary' ? 'sectors' : '{}') : undefined;
        const mediaType = form ? 'application/x-www-form-urlencoded' : route.bodyType === 'binary' ? 'application/octet-stream' : 'application/json';
        let req = request(apps[route.plane]!)[route.method](url).set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method: route.method, url, ...(body ? { body } : {}) }));
        if (body) req = req.set('content-type', mediaType).send(body);
        const res = await req;
        calls++;
        const allowed = roleHolds(role, route.permission) && !(TENANT_ROLES.has(role) && target === 'other');
        const ok = allowed ? res.status !== 401 && res.status !== 403 : res.status === 403;
        if (!ok) mismatches.push(`${route.method.toUpperCase()} ${route.path} as ${role} (${target} tenant): ${res.status}, expected ${allowed ? 'allowed' : '403'}`);
      }
    }
  }
  assert.deepEqual(mismatches, []);
  assert.ok(calls >= routes.length * ROLES.length);
});

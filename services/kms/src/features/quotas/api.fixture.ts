// Test set-up shared by the quota, rate-limit and principal API tests: a fresh store, a tenant
// and an admin listener, a cloud-admin, tenants with their officer, and signed calls as anyone.

import { randomUUID, type KeyObject } from 'node:crypto';
import request from 'supertest';
import { jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader } from '@sealkeep/sdk';
import { asSystem, type Store } from '@sealkeep/store';
import { freshStore } from '@sealkeep/store/testing';
import type { Role } from '../../auth/permissions.js';
import { buildListeners, type ServiceDeps } from '../../server.js';
import { insertPrincipal } from '../principals/store.js';

export type App = Parameters<typeof request>[0];

export interface Caller {
  id: string;
  key: KeyObject;
}

export interface ApiFixture {
  store: Store;
  tenantApp: App;
  adminApp: App;
  operator: Caller;
  /** Listeners of another API node over the same store. */
  nodeApps(deps?: Omit<ServiceDeps, 'store'>): { tenantApp: App; adminApp: App };
  /** A tenant with an active tenant-admin (`alice`). */
  newTenant(): Promise<{ tenantId: string; officer: Caller }>;
  addPrincipal(tenantId: string | null, name: string, role: Role): Promise<Caller>;
  call(app: App, who: Caller, method: 'get' | 'post' | 'put' | 'patch' | 'delete', url: string, body?: unknown): Promise<request.Response>;
}

export async function apiFixture(): Promise<ApiFixture> {
  const store = await freshStore();
  const nodeApps = (deps: Omit<ServiceDeps, 'store'> = {}) => {
    const [tenantApp, adminApp] = buildListeners({ store, ...deps }, [['tenant'], ['admin', 'compliance']]) as unknown as [App, App];
    return { tenantApp, adminApp };
  };
  const addPrincipal = async (tenantId: string | null, name: string, role: Role): Promise<Caller> => {
    const { privateKey, publicKey } = newKeyPair('ed25519');
    const jwk = publicJwk(publicKey);
    const id = randomUUID();
    await insertPrincipal(store.db, { principal_id: id, tenant_id: tenantId, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
    return { id, key: privateKey };
  };
  const operator = await addPrincipal(null, 'ops', 'cloud-admin');
  return {
    store,
    ...nodeApps(),
    operator,
    nodeApps,
    addPrincipal,
    async newTenant() {
      const tenantId = randomUUID();
      await asSystem(store.db, 'test set-up', (trx) => trx('tenants').insert({ tenant_id: tenantId, name: `t-${tenantId}` }));
      return { tenantId, officer: await addPrincipal(tenantId, 'alice', 'tenant-admin') };
    },
    call(app, who, method, url, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(app)[method](url).set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method, url, ...(payload ? { body: payload } : {}) }));
      return payload ? req.set('content-type', 'application/json').send(payload) : req;
    },
  };
}

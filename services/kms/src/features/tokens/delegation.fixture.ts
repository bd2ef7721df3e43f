// Test support for delegation (excluded from the build, like the tests): a store with two
// tenants (acme, globex), a way to add principals to them, listeners for the tenant and data
// planes sharing one token key, and helpers to exchange tokens and make delegated requests.

import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import request from 'supertest';
import { decodeJws, jwkThumbprint, publicJwk, newKeyPair } from '@sealkeep/crypto';
import { authorizationHeader, delegationGrant, type GrantInput } from '@sealkeep/sdk';
import { freshStore } from '@sealkeep/store/testing';
import type { Store } from '@sealkeep/store';
import { buildListeners } from '../../server.js';
import { insertPrincipal } from '../principals/store.js';
import { attestedHostFor } from '../hosts/hosts.fixture.js';
import { deriveTokenKey, type TokenKey } from '../../auth/token-key.js';
import { DELEGATION_HEADER } from '../../auth/delegation.js';
import type { Role } from '../../auth/permissions.js';
import { principalLabel } from '../../http/mount.js';
import { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from './exchange.js';

export type App = Parameters<typeof request>[0];

export interface Party {
  id: string;
  key: KeyObject;
  label: string;
  role: Role;
  tenantId: string | null;
  thumbprint: string;
}

export interface World {
  store: Store;
  tokenKey: TokenKey;
  acme: string;
  globex: string;
  tenantApp: App;
  dataApp: App;
  add(name: string, role: Role, tenantId: string | null): Promise<Party>;
}

/** The cast of the delegation tests: bob of acme, acme's and globex's vcloud-svc (one label, two principals), two hypervisors. */
export interface Cast {
  bob: Party;
  cms: Party;
  cmsGlobex: Party;
  hv: Party;
  hv8: Party;
}

export async function castOf(w: World): Promise<Cast> {
  return {
    bob: await w.add('bob', 'tenant-user', w.acme),
    cms: await w.add('vcloud-svc', 'delegate', w.acme),
    cmsGlobex: await w.add('vcloud-svc', 'delegate', w.globex),
    hv: await w.add('vpxuser@host-07', 'hypervisor', null),
    hv8: await w.add('vpxuser@host-08', 'hypervisor', null),
  };
}

export async function delegationWorld(): Promise<World> {
  const store = await freshStore();
  const tokenKey = deriveTokenKey(randomBytes(32));
  const acme = randomUUID();
  const globex = randomUUID();
  await store.db('tenants').insert([
    { tenant_id: acme, name: 'acme' },
    { tenant_id: globex, name: 'globex' },
  ]);
  const [tenantApp, dataApp] = buildListeners({ store, tokenKey }, [['tenant'], ['data']]) as unknown as [App, App];
  const add = async (name: string, role: Role, tenantId: string | null): Promise<Party> => {
    const { privateKey, publicKey } = role === 'tenant-user' ? newKeyPair('ec', { namedCurve: 'P-256' }) : newKeyPair('ed25519');
    const jwk = publicJwk(publicKey);
    const id = randomUUID();
    await insertPrincipal(store.db, { principal_id: id, tenant_id: tenantId, name, role, public_jwk: jwk, jwk_thumbprint: jwkThumbprint(jwk) });
    if (role === 'hypervisor') await attestedHostFor(store.db, id);
    return { id, key: privateKey, label: principalLabel({ name, role }), role, tenantId, thumbprint: jwkThumbprint(jwk) };
  };
  return { store, tokenKey, acme, globex, tenantApp, dataApp, add };
}

/** A grant by `user` to `to` (default: the cms delegate), as the SDK makes it. */
export function grantBy(user: Party, over: Partial<GrantInput> = {}): string {
  return delegationGrant({ key: user.key, principalId: user.id, tenantId: user.tenantId!, to: 'cms:vcloud-svc', ...over });
}

export interface ExchangeForm {
  subject_token: string;
  subject_token_type?: string;
  grant_type?: string;
  scope?: string;
  next_actor?: string;
}

export function formOf(f: ExchangeForm): string {
  const type = f.subject_token_type ?? (decodeJws(f.subject_token).header.typ === 'sealkeep-grant+jwt' ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE);
  return new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, ...f, subject_token_type: type }).toString();
}

/** POST /v1/token as `who`, with its request proof over the form body. */
export function exchange(app: App, who: Party, f: ExchangeForm): request.Test {
  const body = formOf(f);
  return request(app)
    .post('/v1/token')
    .set('content-type', 'application/x-www-form-urlencoded')
    .set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method: 'POST', url: '/v1/token', body }))
    .send(body);
}

/** A request as `who` acting under `token` (Sealkeep-Delegation), with a JSON body if given. */
export function delegated(app: App, who: Party, token: string, method: 'get' | 'post', url: string, json?: unknown): request.Test {
  const body = json === undefined ? undefined : JSON.stringify(json);
  let req = request(app)[method](url)
    .set('authorization', authorizationHeader({ key: who.key, principalId: who.id, method, url, ...(body ? { body } : {}) }))
    .set(DELEGATION_HEADER, token);
  if (body) req = req.set('content-type', 'application/json').send(body);
  return req;
}

export function claimsOf(token: string): Record<string, unknown> {
  return decodeJws(token).payload;
}

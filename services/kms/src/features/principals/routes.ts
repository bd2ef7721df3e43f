// Principals: who am I (every plane); the tenant's principals, administered by its officer on the
// tenant plane; the provider's operators (cloud-admins, reviewers), administered by a cloud-admin
// on the admin plane. Hypervisor identities come from host attestation, not from here.

import { z } from 'zod';
import { inScope, type Store } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { PLANE_NAMES, route } from '../../http/route.js';
import { findPrincipal } from './store.js';
import { enrollPrincipal, listPrincipals, OPERATOR_ROLES, PROVIDER_SIDE, revokePrincipal, TENANT_PRINCIPAL_ROLES, tenantSide } from './service.js';

const Self = z.object({
  principalId: z.string(),
  name: z.string(),
  role: z.string(),
  tenantId: z.string().nullable(),
});

const PrincipalName = z.string().regex(/^[A-Za-z0-9][\w.@-]{0,63}$/, 'letters, digits and . _ @ -, at most 64');

/** A public key: ES256 (EC P-256) or Ed25519 (OKP); private members are refused. */
const PublicJwk = z.discriminatedUnion('kty', [
  z.strictObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), alg: z.literal('ES256').optional(), kid: z.string().optional(), use: z.literal('sig').optional() }),
  z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), alg: z.literal('EdDSA').optional(), kid: z.string().optional(), use: z.literal('sig').optional() }),
]);

const Summary = z.object({
  principalId: z.string(),
  tenantId: z.string().nullable(),
  name: z.string(),
  role: z.string(),
  status: z.enum(['active', 'revoked']),
  keyThumbprint: z.string().describe('RFC 7638 thumbprint of the public key'),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

const TenantParams = z.object({ tenantId: z.uuid() });

function selfRoutes(store: Store) {
  return PLANE_NAMES.map((plane) =>
    route({
      method: 'get',
      path: '/v1/self',
      plane,
      permission: 'self.read',
      summary: 'The authenticated principal: id, name, role and tenant',
      response: Self,
      handler: async ({ principal }) => {
        const row = await inScope(store.db, principal!.tenantId, (trx) => findPrincipal(trx, principal!.id));
        if (!row) throw new Problem('not-found');
        return { principalId: row.principal_id, name: row.name, role: row.role, tenantId: row.tenant_id };
      },
    }),
  );
}

function tenantPrincipalRoutes(store: Store) {
  return [
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/principals',
      plane: 'tenant',
      permission: 'principal.enroll',
      summary: "Enroll a principal of the tenant with its public key (the private key never leaves its holder)",
      params: TenantParams,
      body: z.strictObject({ name: PrincipalName, role: z.enum(TENANT_PRINCIPAL_ROLES), publicJwk: PublicJwk }),
      response: Summary,
      status: 201,
      handler: ({ params, body, actor }) => enrollPrincipal(store.db, actor!, tenantSide(params.tenantId), body),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/principals',
      plane: 'tenant',
      permission: 'principal.read',
      summary: "The tenant's principals, active and revoked",
      params: TenantParams,
      response: z.array(Summary),
      handler: ({ params }) => listPrincipals(store.db, tenantSide(params.tenantId)),
    }),
    route({
      method: 'post',
      path: '/v1/tenants/:tenantId/principals/:principalId/revoke',
      plane: 'tenant',
      permission: 'principal.revoke',
      summary: "Revoke a principal of the tenant: its next request is refused. The tenant's last active tenant-admin cannot be revoked (409)",
      params: z.object({ tenantId: z.uuid(), principalId: z.uuid() }),
      response: Summary,
      handler: ({ params, actor }) => revokePrincipal(store.db, actor!, tenantSide(params.tenantId), params.principalId),
    }),
  ];
}

function operatorRoutes(store: Store) {
  return [
    route({
      method: 'post',
      path: '/v1/operators',
      plane: 'admin',
      permission: 'operator.enroll',
      summary: "Add a provider operator (cloud-admin or reviewer) with its public key",
      body: z.strictObject({ name: PrincipalName, role: z.enum(OPERATOR_ROLES), publicJwk: PublicJwk }),
      response: Summary,
      status: 201,
      handler: ({ body, actor }) => enrollPrincipal(store.db, actor!, PROVIDER_SIDE, body),
    }),
    route({
      method: 'get',
      path: '/v1/operators',
      plane: 'admin',
      permission: 'operator.read',
      summary: "The provider's operators (cloud-admins and reviewers), active and revoked",
      response: z.array(Summary),
      handler: () => listPrincipals(store.db, PROVIDER_SIDE),
    }),
    route({
      method: 'post',
      path: '/v1/operators/:principalId/revoke',
      plane: 'admin',
      permission: 'operator.revoke',
      summary: 'Revoke a provider operator: its next request is refused. The last active cloud-admin cannot be revoked (409)',
      params: z.object({ principalId: z.uuid() }),
      response: Summary,
      handler: ({ params, actor }) => revokePrincipal(store.db, actor!, PROVIDER_SIDE, params.principalId),
    }),
  ];
}

export function principalRoutes(store: Store) {
  return [...selfRoutes(store), ...tenantPrincipalRoutes(store), ...operatorRoutes(store)];
}

// Tenant routes: creation and listing on the admin plane; enrollment of the tenant's security
// officer on the tenant plane (public, but proven with the officer's own key).

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { verifySelfSignedProof } from '../../auth/request-proof.js';
import { createTenant, enroll, listTenants } from './service.js';

const TenantName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and hyphens, at most 63');
const PrincipalName = z.string().regex(/^[A-Za-z0-9][\w.@-]{0,63}$/, 'letters, digits and . _ @ -, at most 64');

export function tenantRoutes(store: Store) {
  return [
    route({
      method: 'post',
      path: '/v1/tenants',
      plane: 'admin',
      permission: 'tenant.create',
      summary: 'Create a tenant; the answer holds its one-time enrollment code (shown once, expires in 24 h)',
      body: z.strictObject({
        name: TenantName,
        officerKeyThumbprint: z
          .string()
          .regex(/^[A-Za-z0-9_-]{43}$/)
          .optional()
          .describe("RFC 7638 thumbprint of the security officer's public key: only that key may use the code"),
      }),
      status: 201,
      handler: ({ body, principal, actor }) => createTenant(store.db, actor!, body.name, principal!.id, body.officerKeyThumbprint ?? null),
    }),
    route({
      method: 'get',
      path: '/v1/tenants',
      plane: 'admin',
      permission: 'tenant.list',
      summary: 'List tenants (metadata only)',
      handler: () => listTenants(store.db),
    }),
    route({
      method: 'post',
      path: '/v1/enroll',
      plane: 'tenant',
      permission: 'public',
      summary: "Enroll a tenant's security officer with an enrollment code and a request proof signed by their own key (public key in the JWS header)",
      body: z.strictObject({ code: z.string().min(16).max(128), name: PrincipalName }),
      status: 201,
      handler: ({ body, signed, requestId }) => enroll(store.db, requestId, body.code, body.name, verifySelfSignedProof(signed).publicJwk),
    }),
  ];
}

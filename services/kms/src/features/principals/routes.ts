// Principals: who am I (every plane), as the service sees the caller of a signed request.

import { z } from 'zod';
import { inScope, type Store } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { PLANE_NAMES, route } from '../../http/route.js';
import { findPrincipal } from './store.js';

const Self = z.object({
  principalId: z.string(),
  name: z.string(),
  role: z.string(),
  tenantId: z.string().nullable(),
});

export function principalRoutes(store: Store) {
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

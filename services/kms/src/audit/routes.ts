// Audit export: a tenant's security officer exports their tenant's chain; a reviewer exports any
// chain on the compliance plane. Both get the entries exactly as written (JSON Lines), to verify
// offline with `sealkeep audit verify` (@sealkeep/attestation).

import { z } from 'zod';
import { inScope, type Store } from '@sealkeep/store';
import { route } from '../http/route.js';
import { exportChain, PROVIDER_CHAIN } from './audit-log.js';

const Export = z.object({ chainId: z.string(), lines: z.array(z.string()) });

export function auditRoutes(store: Store) {
  return [
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/audit',
      plane: 'tenant',
      permission: 'audit.read-tenant',
      summary: "The tenant's audit chain, entries as written (JSON Lines), for offline verification",
      params: z.object({ tenantId: z.uuid() }),
      response: Export,
      handler: async ({ params }) => ({ chainId: params.tenantId, lines: await inScope(store.db, params.tenantId, (trx) => exportChain(trx, params.tenantId)) }),
    }),
    route({
      method: 'get',
      path: '/v1/audit/chains/:chainId',
      plane: 'compliance',
      permission: 'audit.export',
      summary: `An audit chain (a tenant id, or "${PROVIDER_CHAIN}"), entries as written (JSON Lines)`,
      params: z.object({ chainId: z.union([z.uuid(), z.literal(PROVIDER_CHAIN)]) }),
      response: Export,
      handler: async ({ params }) => {
        const tenantId = params.chainId === PROVIDER_CHAIN ? null : params.chainId;
        return { chainId: params.chainId, lines: await inScope(store.db, tenantId, (trx) => exportChain(trx, params.chainId)) };
      },
    }),
  ];
}

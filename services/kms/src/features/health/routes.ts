// Liveness and readiness (admin plane, no credentials): /healthz answers while the process runs;
// /readyz only while the store answers too, so a load balancer stops sending work to a node
// that lost its database.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { route } from '../../http/route.js';

export function healthRoutes(store: Store) {
  return [
    route({
      method: 'get',
      path: '/healthz',
      plane: 'admin',
      permission: 'public',
      summary: 'Liveness: the process is running',
      response: z.object({ status: z.literal('ok') }),
      handler: () => ({ status: 'ok' }),
    }),
    route({
      method: 'get',
      path: '/readyz',
      plane: 'admin',
      permission: 'public',
      summary: 'Readiness: the service can reach its store',
      response: z.object({ status: z.literal('ready'), checks: z.object({ store: z.boolean() }) }),
      handler: async () => {
        const storeUp = await store.ping();
        if (!storeUp) throw new Problem('service-unavailable', 'the store does not answer', { checks: { store: false } });
        return { status: 'ready', checks: { store: true } };
      },
    }),
  ];
}

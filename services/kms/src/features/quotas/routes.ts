// Quota routes: the cloud-admin sets a tenant's limits and reads them with its usage on the admin
// plane; the tenant's officer reads the same on the tenant plane.

import { z } from 'zod';
import type { Store } from '@sealkeep/store';
import { route } from '../../http/route.js';
import { readQuotasAsProvider, readQuotasAsTenant, setQuotas } from './service.js';

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

const Limits = z.object({
  keys: Count,
  vms: Count,
  volumes: Count,
  volumeBytes: Count,
  opsPerSecond: z.number().int().min(1).max(1_000_000).nullable(),
});

const Report = z.object({
  tenantId: z.string(),
  limits: Limits.describe('null: unlimited (the default)'),
  usage: z.object({ keys: z.number(), vms: z.number(), volumes: z.number(), volumeBytes: z.number() }),
  updatedAt: z.string().nullable(),
});

const SetResult = Report.extend({
  belowUsage: z.array(z.object({ resource: z.string(), limit: z.number(), used: z.number() })),
  warnings: z.array(z.string()),
});

const TenantParams = z.object({ tenantId: z.uuid() });

export function quotaRoutes(store: Store) {
  return [
    route({
      method: 'put',
      path: '/v1/tenants/:tenantId/quotas',
      plane: 'admin',
      permission: 'quota.set',
      summary:
        "Set a tenant's limits: the limits named change (null: unlimited), the others keep their values. A limit below current usage is accepted and reported: nothing is removed, creation is refused until usage falls below it",
      params: TenantParams,
      body: z.strictObject({
        keys: Count.optional(),
        vms: Count.optional(),
        volumes: Count.optional(),
        volumeBytes: Count.optional().describe('total size of the tenant’s volumes, in bytes'),
        opsPerSecond: Limits.shape.opsPerSecond.optional().describe('requests per second across all API nodes (token bucket, burst of one second)'),
      }),
      response: SetResult,
      handler: ({ params, body, actor }) => setQuotas(store.db, actor!, params.tenantId, body),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/quotas',
      plane: 'admin',
      permission: 'quota.read',
      summary: "A tenant's limits and usage",
      params: TenantParams,
      response: Report,
      handler: ({ params }) => readQuotasAsProvider(store.db, params.tenantId),
    }),
    route({
      method: 'get',
      path: '/v1/tenants/:tenantId/quotas',
      plane: 'tenant',
      permission: 'quota.read',
      summary: "The tenant's limits and usage",
      params: TenantParams,
      response: Report,
      handler: ({ params }) => readQuotasAsTenant(store.db, params.tenantId),
    }),
  ];
}

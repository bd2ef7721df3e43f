// Counting what a tenant holds against the limits the cloud-admin set. reserve() and release() run
// inside the transaction of the creation or deletion they count, in the tenant's scope, so a
// rolled-back change takes its count with it. reserve() is one conditional upsert: PostgreSQL
// re-checks `used + amount <= limit` on the row as the previous writer committed it, so
// concurrent requests cannot slip past a limit.

import type { Knex } from 'knex';
import { Problem } from '../../http/problems.js';

export const QUOTA_RESOURCES = ['keys', 'vms', 'volumes', 'volume-bytes'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

/** The tenant_quotas column that limits each counted resource. */
export const LIMIT_COLUMN: Record<QuotaResource, string> = {
  keys: 'keys',
  vms: 'vms',
  volumes: 'volumes',
  'volume-bytes': 'volume_bytes',
};

function checkArguments(resource: QuotaResource, amount: number): void {
  if (!QUOTA_RESOURCES.includes(resource)) throw new TypeError(`unknown quota resource "${String(resource)}"`);
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new RangeError(`a quota amount is a positive integer, got ${amount}`);
}

/** The tenant's limit for a resource (null: unlimited) and its current usage; call in the tenant's scope. */
export async function limitAndUsage(trx: Knex.Transaction, tenantId: string, resource: QuotaResource): Promise<{ limit: number | null; used: number }> {
  const limits = await trx('tenant_quotas').where({ tenant_id: tenantId }).first(LIMIT_COLUMN[resource]);
  const usage = await trx('tenant_usage').where({ tenant_id: tenantId, resource }).first('used');
  return { limit: (limits?.[LIMIT_COLUMN[resource]] as number | null | undefined) ?? null, used: (usage?.used as number | undefined) ?? 0 };
}

/**
 * Count `amount` more of `resource` for the tenant, or refuse with quota-exceeded when that would
 * pass its limit. Returns the usage after the reservation. Call in the tenant's scope, in the
 * transaction of the creation it counts.
 */
export async function reserve(trx: Knex.Transaction, tenantId: string, resource: QuotaResource, amount: number): Promise<number> {
  checkArguments(resource, amount);
  const column = LIMIT_COLUMN[resource];
  // The first reservation inserts the usage row (if `amount` alone fits); later ones add to it
  // only while the sum fits. A missing limit row or a null limit is unlimited.
  const result = await trx.raw(
    `insert into tenant_usage (tenant_id, resource, used)
       select ?::uuid, ?::text, ?::bigint
        where coalesce(?::bigint <= (select q.?? from tenant_quotas q where q.tenant_id = ?::uuid), true)
     on conflict (tenant_id, resource) do update
        set used = tenant_usage.used + excluded.used
      where coalesce(tenant_usage.used + excluded.used <= (select q.?? from tenant_quotas q where q.tenant_id = ?::uuid), true)
     returning used`,
    [tenantId, resource, amount, amount, column, tenantId, column, tenantId],
  );
  const row = (result.rows as Array<{ used: number }>)[0];
  if (row) return Number(row.used);
  const { limit, used } = await limitAndUsage(trx, tenantId, resource);
  throw new Problem('quota-exceeded', `${resource}: limit ${limit}, in use ${used}, requested ${amount}`, { resource, limit, used, requested: amount });
}

/**
 * Give back `amount` of `resource` (a deletion, or a shrink). Call in the tenant's scope, in the
 * transaction of the change. Releasing more than is counted is a bug in the caller and throws.
 */
export async function release(trx: Knex.Transaction, tenantId: string, resource: QuotaResource, amount: number): Promise<number> {
  checkArguments(resource, amount);
  const rows = (await trx('tenant_usage')
    .where({ tenant_id: tenantId, resource })
    .andWhere('used', '>=', amount)
    .update({ used: trx.raw('used - ?', [amount]) })
    .returning('used')) as Array<{ used: number }>;
  if (!rows[0]) throw new Error(`release of ${amount} ${resource} exceeds the tenant's counted usage`);
  return Number(rows[0].used);
}

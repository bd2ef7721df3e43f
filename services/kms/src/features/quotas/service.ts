// Reading and setting a tenant's limits. The cloud-admin sets them from the provider's side by
// entering the tenant's scope (the tables hold tenant rows only); each change is audited in the
// tenant's own chain, so the tenant can see that and how the provider changed its limits.

import type { Knex } from 'knex';
import { asProvider, enterTenant, inTenant } from '@sealkeep/store';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { LIMIT_COLUMN, type QuotaResource } from './quota.js';

/** The limits as the API names them; null is unlimited. */
export interface Limits {
  keys: number | null;
  vms: number | null;
  volumes: number | null;
  volumeBytes: number | null;
  opsPerSecond: number | null;
}
export type LimitName = keyof Limits;

const LIMIT_NAMES: readonly LimitName[] = ['keys', 'vms', 'volumes', 'volumeBytes', 'opsPerSecond'];

const COLUMN: Record<LimitName, string> = {
  keys: LIMIT_COLUMN.keys,
  vms: LIMIT_COLUMN.vms,
  volumes: LIMIT_COLUMN.volumes,
  volumeBytes: LIMIT_COLUMN['volume-bytes'],
  opsPerSecond: 'ops_per_second',
};

const RESOURCE_OF: Record<Exclude<LimitName, 'opsPerSecond'>, QuotaResource> = { keys: 'keys', vms: 'vms', volumes: 'volumes', volumeBytes: 'volume-bytes' };

export interface Usage {
  keys: number;
  vms: number;
  volumes: number;
  volumeBytes: number;
}

export interface QuotaReport {
  tenantId: string;
  limits: Limits;
  usage: Usage;
  /** When the limits were last set; null while the tenant has the defaults (unlimited). */
  updatedAt: string | null;
}

export interface BelowUsage {
  resource: QuotaResource;
  limit: number;
  used: number;
}

export interface SetQuotaResult extends QuotaReport {
  /** Limits set below what the tenant already holds: nothing is taken away, creation is refused until usage falls below. */
  belowUsage: BelowUsage[];
  warnings: string[];
}

const UNLIMITED: Limits = { keys: null, vms: null, volumes: null, volumeBytes: null, opsPerSecond: null };

async function report(trx: Knex.Transaction, tenantId: string): Promise<QuotaReport> {
  const row = await trx('tenant_quotas').where({ tenant_id: tenantId }).first();
  const limits = { ...UNLIMITED };
  for (const name of LIMIT_NAMES) limits[name] = (row?.[COLUMN[name]] as number | null | undefined) ?? null;
  const usage: Usage = { keys: 0, vms: 0, volumes: 0, volumeBytes: 0 };
  const rows = (await trx('tenant_usage').where({ tenant_id: tenantId }).select('resource', 'used')) as Array<{ resource: QuotaResource; used: number }>;
  for (const [name, resource] of Object.entries(RESOURCE_OF) as Array<[keyof Usage, QuotaResource]>) {
    usage[name] = Number(rows.find((r) => r.resource === resource)?.used ?? 0);
  }
  return { tenantId, limits, usage, updatedAt: row ? (row.updated_at as Date).toISOString() : null };
}

/** Enter the tenant's scope from the provider's, or answer 404 when there is no such tenant. */
async function enterExistingTenant(trx: Knex.Transaction, tenantId: string): Promise<void> {
  const tenant = await trx('tenants').where({ tenant_id: tenantId }).first('tenant_id');
  if (!tenant) throw new Problem('not-found', 'no such tenant');
  await enterTenant(trx, tenantId);
}

/** The tenant's limits and usage, read by its own officer. */
export function readQuotasAsTenant(db: Knex, tenantId: string): Promise<QuotaReport> {
  return inTenant(db, tenantId, (trx) => report(trx, tenantId));
}

/** The tenant's limits and usage, read by the provider. */
export function readQuotasAsProvider(db: Knex, tenantId: string): Promise<QuotaReport> {
  return asProvider(db, async (trx) => {
    await enterExistingTenant(trx, tenantId);
    return report(trx, tenantId);
  });
}

/**
 * Set some of the tenant's limits (the others keep their values; null makes one unlimited), in
 * one transaction with the audit entry in the tenant's chain.
 */
export function setQuotas(db: Knex, actor: AuditActor, tenantId: string, changes: Partial<Limits>): Promise<SetQuotaResult> {
  const given = LIMIT_NAMES.filter((name) => changes[name] !== undefined);
  if (given.length === 0) throw new Problem('validation-failed', 'name at least one limit to set', { errors: [{ in: 'body', path: '', message: 'no limit given' }] });
  return asProvider(db, async (trx) => {
    await enterExistingTenant(trx, tenantId);
    const before = await report(trx, tenantId);
    const columns = Object.fromEntries(given.map((name) => [COLUMN[name], changes[name]]));
    await trx('tenant_quotas')
      .insert({ tenant_id: tenantId, ...columns, updated_at: trx.fn.now() })
      .onConflict('tenant_id')
      .merge([...Object.keys(columns), 'updated_at']);
    const after = await report(trx, tenantId);
    const details: Record<string, number | null> = {};
    for (const name of given) {
      details[name] = after.limits[name];
      details[`${name}Before`] = before.limits[name];
    }
    await appendAudit(trx, actor, { tenantId, action: 'quota.set', resource: `tenant:${tenantId}`, outcome: 'success', details });
    const belowUsage: BelowUsage[] = [];
    for (const [name, resource] of Object.entries(RESOURCE_OF) as Array<[keyof Usage, QuotaResource]>) {
      const limit = after.limits[name];
      if (limit !== null && limit < after.usage[name]) belowUsage.push({ resource, limit, used: after.usage[name] });
    }
    const warnings = belowUsage.map(
      (b) => `${b.resource}: the limit ${b.limit} is below the ${b.used} in use; nothing is removed, but creating more is refused until usage falls below the limit`,
    );
    return { ...after, belowUsage, warnings };
  });
}

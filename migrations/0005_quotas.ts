// 0005: system limits per tenant.
//   tenant_quotas       the limits the cloud-admin set (one row per tenant; no row, or null in a
//                       column, means unlimited — the default for every tenant)
//   tenant_usage        what the tenant holds, per counted resource ('keys', 'vms', 'volumes',
//                       'volume-bytes'); reserved and released in the transaction of the change
//   rate_limit_buckets  the token bucket of each tenant with an operations-per-second limit, in the
//                       store so the limit holds across API nodes
// All three hold tenant rows only: the provider writes limits by entering the tenant's scope.

import type { Knex } from 'knex';
import { protectTenantTable, unprotectTenantTable } from './row-level-security.js';

const TABLES = ['tenant_quotas', 'tenant_usage', 'rate_limit_buckets'] as const;

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('tenant_quotas', (t) => {
    t.uuid('tenant_id').primary().references('tenant_id').inTable('tenants');
    t.bigInteger('keys').nullable();
    t.bigInteger('vms').nullable();
    t.bigInteger('volumes').nullable();
    t.bigInteger('volume_bytes').nullable();
    t.integer('ops_per_second').nullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.check('keys >= 0 and vms >= 0 and volumes >= 0 and volume_bytes >= 0', [], 'tenant_quotas_non_negative');
    t.check('ops_per_second > 0', [], 'tenant_quotas_ops_positive');
  });
  await db.schema.createTable('tenant_usage', (t) => {
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('resource').notNullable();
    t.bigInteger('used').notNullable().defaultTo(0);
    t.primary(['tenant_id', 'resource']);
    t.check("resource in ('keys', 'vms', 'volumes', 'volume-bytes')", [], 'tenant_usage_resource_check');
    t.check('used >= 0', [], 'tenant_usage_non_negative');
  });
  await db.schema.createTable('rate_limit_buckets', (t) => {
    t.uuid('tenant_id').primary().references('tenant_id').inTable('tenants');
    t.double('tokens').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  for (const table of TABLES) await protectTenantTable(db, table, { providerRows: false });
}

export async function down(db: Knex): Promise<void> {
  for (const table of [...TABLES].reverse()) {
    await unprotectTenantTable(db, table);
    await db.schema.dropTable(table);
  }
}

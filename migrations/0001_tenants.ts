// 0001: tenants — the root every tenant-owned row hangs from. Every later tenant table carries
// tenant_id referencing it, so the store can be sharded by tenant.

import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('tenants', (t) => {
    t.uuid('tenant_id').primary();
    t.text('name').notNullable().unique();
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.check("status in ('active', 'suspended', 'deleted')", [], 'tenants_status_check');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('tenants');
}

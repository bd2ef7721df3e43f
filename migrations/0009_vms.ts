// 0009: tenants' VMs and their volumes.
//   vms       a VM a tenant user registered: its name (unique in the tenant) and the release
//             policy its officer wrote: which key may be released to it, and the reference
//             values (expected vPCRs) its measured boot must match
//   volumes   a VM's virtual disks: size, sector size (512 or 4096), C.I.A. classification
// Both hold tenant rows only, behind row-level security. Counted against the tenant's quotas
// (vms, volumes, volume-bytes) in the transaction that creates or removes them.

import type { Knex } from 'knex';
import { protectTenantTable, unprotectTenantTable } from './row-level-security.js';

const LEVELS = "('low', 'moderate', 'high')";

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('vms', (t) => {
    t.uuid('vm_id').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('name').notNullable();
    t.uuid('release_key_id').nullable().references('key_id').inTable('keys');
    t.jsonb('reference_values').nullable();
    t.timestamp('policy_updated_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.unique(['tenant_id', 'name']);
  });
  await db.schema.createTable('volumes', (t) => {
    t.uuid('volume_id').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.uuid('vm_id').notNullable().references('vm_id').inTable('vms');
    t.text('name').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.integer('sector_size').notNullable();
    t.text('confidentiality').notNullable();
    t.text('integrity').notNullable();
    t.text('availability').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.unique(['vm_id', 'name']);
    t.check('sector_size in (512, 4096)', [], 'volumes_sector_size_check');
    t.check('size_bytes > 0 and size_bytes % sector_size = 0', [], 'volumes_size_check');
    t.check(`confidentiality in ${LEVELS} and integrity in ${LEVELS} and availability in ${LEVELS}`, [], 'volumes_cia_check');
  });
  for (const table of ['vms', 'volumes']) await protectTenantTable(db, table, { providerRows: false });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['volumes', 'vms']) {
    await unprotectTenantTable(db, table);
    await db.schema.dropTable(table);
  }
}

// 0010: the VM measured boots and the volume keys sealed to them.
//   vm_boots     one row per VM start: the host it started on, its measured-boot log (CEL JSON),
//                the vPCR values its vTPM holds after the log was extended, whether they met the
//                VM's release policy then, and the actor chain that started it. vms.current_boot_id
//                names the boot in force; a new start replaces it.
//   volume_keys  one per volume: the volume's DEK (a 512-bit XTS key and a 256-bit integrity
//                key), wrapped by the tenant's release key (the service TPM) and that wrapping
//                sealed in the VM's vTPM under PolicyPCR to the expected vPCRs. Only TPM blobs
//                are stored; the DEK itself never is.
// Both hold tenant rows only, behind row-level security.

import type { Knex } from 'knex';
import { protectTenantTable, unprotectTenantTable } from './row-level-security.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('vm_boots', (t) => {
    t.uuid('boot_id').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.uuid('vm_id').notNullable().references('vm_id').inTable('vms').onDelete('CASCADE');
    t.uuid('host_id').notNullable().references('host_id').inTable('hosts');
    t.jsonb('log').notNullable();
    t.jsonb('vpcrs').notNullable();
    t.text('policy_result').notNullable();
    t.jsonb('actor_chain').notNullable();
    t.timestamp('booted_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.index(['vm_id', 'booted_at']);
    t.check("policy_result in ('match', 'mismatch', 'no-policy')", [], 'vm_boots_policy_result_check');
  });
  await db.schema.alterTable('vms', (t) => {
    t.uuid('current_boot_id').nullable().references('boot_id').inTable('vm_boots');
  });
  await db.schema.createTable('volume_keys', (t) => {
    t.uuid('volume_id').primary().references('volume_id').inTable('volumes').onDelete('CASCADE');
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.uuid('kek_id').notNullable().references('key_id').inTable('keys');
    t.integer('kek_version').notNullable();
    t.binary('sealed_public').notNullable();
    t.binary('sealed_private').notNullable();
    t.jsonb('sealed_vpcrs').notNullable();
    t.text('origin').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('sealed_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.check("origin in ('generated', 'imported')", [], 'volume_keys_origin_check');
  });
  for (const table of ['vm_boots', 'volume_keys']) await protectTenantTable(db, table, { providerRows: false });
}

export async function down(db: Knex): Promise<void> {
  await unprotectTenantTable(db, 'volume_keys');
  await db.schema.dropTable('volume_keys');
  await db.schema.alterTable('vms', (t) => t.dropColumn('current_boot_id'));
  await unprotectTenantTable(db, 'vm_boots');
  await db.schema.dropTable('vm_boots');
}

// 0007: tenant keys.
//   keys          one row per key: name (unique in its tenant), type, lifecycle state, primary
//                 version, C.I.A. classification (FIPS 199), scheduled destruction
//   key_versions  every version of a key: where it came from, its TPM public area and its TPM
//                 private blob under the host's storage root key (nulled when the key is
//                 destroyed), and the public key of an asymmetric version
//   import_jobs   BYOK import jobs: the job's key name and type, the SHA-256 of its one-use
//                 token, its expiry, and the TPM-resident wrapping key's blobs (erased when spent
//                 or expired)
// All three hold tenant rows only, behind row-level security.

import type { Knex } from 'knex';
import { protectTenantTable, unprotectTenantTable } from './row-level-security.js';

const TABLES = ['keys', 'key_versions', 'import_jobs'] as const;
const LEVELS = "('low', 'moderate', 'high')";

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('keys', (t) => {
    t.uuid('key_id').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('name').notNullable();
    t.text('type').notNullable();
    t.text('state').notNullable();
    t.integer('primary_version').notNullable();
    t.text('confidentiality').notNullable();
    t.text('integrity').notNullable();
    t.text('availability').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('destroy_after', { useTz: true }).nullable();
    t.timestamp('destroyed_at', { useTz: true }).nullable();
    t.unique(['tenant_id', 'name']);
    t.check("state in ('enabled', 'disabled', 'pending-destruction', 'destroyed')", [], 'keys_state_check');
    t.check(`confidentiality in ${LEVELS} and integrity in ${LEVELS} and availability in ${LEVELS}`, [], 'keys_cia_check');
    t.check("(state = 'pending-destruction') = (destroy_after is not null)", [], 'keys_destroy_after_check');
  });
  await db.schema.createTable('key_versions', (t) => {
    t.uuid('key_id').notNullable().references('key_id').inTable('keys');
    t.integer('version').notNullable();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('origin').notNullable();
    t.binary('public_area').nullable();
    t.binary('private_blob').nullable();
    t.binary('public_key_spki').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['key_id', 'version']);
    t.check("origin in ('generated', 'imported')", [], 'key_versions_origin_check');
    t.check('version >= 1', [], 'key_versions_version_check');
  });
  await db.schema.createTable('import_jobs', (t) => {
    t.uuid('job_id').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('key_name').notNullable();
    t.text('key_type').notNullable();
    t.binary('token_sha256').notNullable().unique();
    t.binary('wrapping_public_area').nullable();
    t.binary('wrapping_private_blob').nullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('spent_at', { useTz: true }).nullable();
    t.uuid('key_id').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  for (const table of TABLES) await protectTenantTable(db, table, { providerRows: false });
}

export async function down(db: Knex): Promise<void> {
  for (const table of [...TABLES].reverse()) {
    await unprotectTenantTable(db, table);
    await db.schema.dropTable(table);
  }
}

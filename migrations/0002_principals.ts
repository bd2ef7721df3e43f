// 0002: principals (public keys only — a dump of this table yields no credential), one-time
// enrollment codes (stored as SHA-256 hashes), and the replay cache of request-proof ids, kept
// in the store so a replay is refused across restarts and across API nodes.

import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('principals', (t) => {
    t.uuid('principal_id').primary();
    t.uuid('tenant_id').nullable().references('tenant_id').inTable('tenants');
    t.text('name').notNullable();
    t.text('role').notNullable();
    t.jsonb('public_jwk').notNullable();
    t.text('jwk_thumbprint').notNullable().unique();
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.check("role in ('cloud-admin', 'tenant-admin', 'tenant-user', 'hypervisor', 'delegate', 'reviewer')", [], 'principals_role_check');
    t.check("status in ('active', 'revoked')", [], 'principals_status_check');
    // Provider roles have no tenant; tenant roles always have one.
    t.check("(role in ('tenant-admin', 'tenant-user', 'delegate')) = (tenant_id is not null)", [], 'principals_tenant_check');
  });
  // One name per tenant, and one per provider side (tenant_id null).
  await db.raw("create unique index principals_name_unique on principals (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), name)");

  await db.schema.createTable('enrollment_codes', (t) => {
    t.text('code_hash').primary();
    t.uuid('tenant_id').notNullable().references('tenant_id').inTable('tenants');
    t.text('role').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true }).nullable();
    // When the tenant gave its officer's key thumbprint (RFC 7638) at creation, only that key may
    // enroll: the cloud-admin, who relays the code, cannot enroll a key of its own with it.
    t.text('bound_thumbprint').nullable();
    t.uuid('created_by').notNullable().references('principal_id').inTable('principals');
  });

  await db.schema.createTable('request_proofs', (t) => {
    t.uuid('principal_id').notNullable().references('principal_id').inTable('principals');
    t.text('jti').notNullable();
    t.uuid('tenant_id').nullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['principal_id', 'jti']);
    t.index(['expires_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('request_proofs');
  await db.schema.dropTable('enrollment_codes');
  await db.schema.dropTable('principals');
}

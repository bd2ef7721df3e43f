// 0004: row-level security, the second wall behind the service's authorization. Tenant and
// provider transactions run as the role sealkeep_app (packages/store/src/scoped.ts), which owns
// no table and cannot bypass RLS; the policies let it see only the rows of the tenant named in
// the transaction's `sealkeep.tenant_id`, or, in the provider scope, the provider's own rows
// (tenant_id null). With no context set, it sees nothing.
//
// The role is cluster-wide in PostgreSQL, so it is created once and kept by `down`; creating it
// needs CREATEROLE (or a DBA who creates it beforehand). Later migrations protect their tables
// with protectTenantTable() from ./row-level-security.ts.

import type { Knex } from 'knex';
import { APP_ROLE, protectTenantTable, unprotectTenantTable } from './row-level-security.js';

const TENANT_TABLES = [
  ['principals', { providerRows: true }],
  ['enrollment_codes', { providerRows: false }],
  ['request_proofs', { providerRows: true }],
  ['audit_chains', { providerRows: true }],
  ['audit_entries', { providerRows: true }],
] as const;

export async function up(db: Knex): Promise<void> {
  // Two databases migrating at once (tests) may race to create the role: either error means it exists.
  await db.raw(`do $$ begin create role ${APP_ROLE} nologin; exception when duplicate_object or unique_violation then null; end $$`);
  await db.raw(`grant usage on schema public to ${APP_ROLE}`);
  await db.raw(`
    create or replace function sealkeep_tenant() returns uuid language sql stable as
      $$ select nullif(current_setting('sealkeep.tenant_id', true), '')::uuid $$`);
  await db.raw(`
    create or replace function sealkeep_provider() returns boolean language sql stable as
      $$ select coalesce(current_setting('sealkeep.scope', true), '') = 'provider' $$`);
  await db.raw(`grant execute on function sealkeep_tenant(), sealkeep_provider() to ${APP_ROLE}`);

  // The tenants list: the provider sees every tenant, a tenant only itself.
  await db.raw(`grant select, insert, update on tenants to ${APP_ROLE}`);
  await db.raw('alter table tenants enable row level security');
  await db.raw('alter table tenants force row level security');
  await db.raw(`create policy tenants_scope on tenants to ${APP_ROLE} using (sealkeep_provider() or tenant_id = sealkeep_tenant())`);

  for (const [table, opts] of TENANT_TABLES) await protectTenantTable(db, table, opts);
}

export async function down(db: Knex): Promise<void> {
  for (const [table] of [...TENANT_TABLES].reverse()) await unprotectTenantTable(db, table);
  await db.raw('drop policy tenants_scope on tenants');
  await db.raw('alter table tenants no force row level security');
  await db.raw('alter table tenants disable row level security');
  await db.raw(`revoke all on tenants from ${APP_ROLE}`);
  await db.raw(`revoke execute on function sealkeep_tenant(), sealkeep_provider() from ${APP_ROLE}`);
  await db.raw('drop function sealkeep_provider()');
  await db.raw('drop function sealkeep_tenant()');
  await db.raw(`revoke usage on schema public from ${APP_ROLE}`);
}

// How a table holding tenant rows is put behind row-level security, the same way each time:
// sealkeep_app may read and write it, and sees a row only when its tenant_id is the
// transaction's tenant, or (providerRows) when tenant_id is null in the provider's scope.
// FORCE applies the policy to the table's owner too.

import type { Knex } from 'knex';

/** Kept in step with packages/store/src/scoped.ts, which switches transactions to this role. */
export const APP_ROLE = 'sealkeep_app';

export async function protectTenantTable(db: Knex, table: string, opts: { providerRows: boolean }): Promise<void> {
  const visible = opts.providerRows
    ? '(tenant_id = sealkeep_tenant() or (tenant_id is null and sealkeep_provider()))'
    : '(tenant_id = sealkeep_tenant())';
  await db.raw(`grant select, insert, update, delete on ?? to ${APP_ROLE}`, [table]);
  await db.raw('alter table ?? enable row level security', [table]);
  await db.raw('alter table ?? force row level security', [table]);
  await db.raw(`create policy tenant_scope on ?? to ${APP_ROLE} using ${visible} with check ${visible}`, [table]);
}

export async function unprotectTenantTable(db: Knex, table: string): Promise<void> {
  await db.raw('drop policy tenant_scope on ??', [table]);
  await db.raw('alter table ?? no force row level security', [table]);
  await db.raw('alter table ?? disable row level security', [table]);
  await db.raw(`revoke all on ?? from ${APP_ROLE}`, [table]);
}

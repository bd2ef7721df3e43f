// Principals as the store holds them: public keys only. Lookups by id for authentication; listings,
// lookups and revocation for their administrators, one side (a tenant, or the provider) at a time.

import type { Knex } from 'knex';
import type { JsonWebKey } from 'node:crypto';
import type { Role } from '../../auth/permissions.js';

export interface PrincipalRow {
  principal_id: string;
  tenant_id: string | null;
  name: string;
  role: Role;
  public_jwk: JsonWebKey;
  jwk_thumbprint: string;
  status: 'active' | 'revoked';
}

export async function findPrincipal(db: Knex, principalId: string): Promise<PrincipalRow | undefined> {
  return db<PrincipalRow>('principals').where({ principal_id: principalId }).first();
}

export async function insertPrincipal(db: Knex, row: Omit<PrincipalRow, 'status'>): Promise<void> {
  await db('principals').insert({ ...row, public_jwk: JSON.stringify(row.public_jwk) });
}

/** A principal as its administrators see it: no key material beyond the key's thumbprint. */
export interface PrincipalSummary {
  principalId: string;
  tenantId: string | null;
  name: string;
  role: Role;
  status: 'active' | 'revoked';
  keyThumbprint: string;
  createdAt: string;
  revokedAt: string | null;
}

const SUMMARY_COLUMNS = ['principal_id', 'tenant_id', 'name', 'role', 'status', 'jwk_thumbprint', 'created_at', 'revoked_at'];

function summaryOf(row: Record<string, unknown>): PrincipalSummary {
  return {
    principalId: row.principal_id as string,
    tenantId: (row.tenant_id as string | null) ?? null,
    name: row.name as string,
    role: row.role as Role,
    status: row.status as PrincipalSummary['status'],
    keyThumbprint: row.jwk_thumbprint as string,
    createdAt: (row.created_at as Date).toISOString(),
    revokedAt: row.revoked_at ? (row.revoked_at as Date).toISOString() : null,
  };
}

/** Principals of one tenant (or of the provider when null) with one of `roles`, oldest first. */
function ofSide(db: Knex, tenantId: string | null, roles: readonly Role[]) {
  const q = db('principals').whereIn('role', roles as Role[]);
  return tenantId === null ? q.whereNull('tenant_id') : q.where({ tenant_id: tenantId });
}

export async function listPrincipalSummaries(db: Knex, tenantId: string | null, roles: readonly Role[]): Promise<PrincipalSummary[]> {
  const rows = await ofSide(db, tenantId, roles).orderBy([{ column: 'created_at' }, { column: 'name' }]).select(SUMMARY_COLUMNS);
  return rows.map(summaryOf);
}

export async function findPrincipalSummary(db: Knex, tenantId: string | null, roles: readonly Role[], principalId: string): Promise<PrincipalSummary | undefined> {
  const row = await ofSide(db, tenantId, roles).where({ principal_id: principalId }).first(SUMMARY_COLUMNS);
  return row ? summaryOf(row) : undefined;
}

/** Lock the active principals of `role` on one side, in id order (so concurrent lockers never deadlock); their ids. */
export async function lockActive(db: Knex, tenantId: string | null, role: Role): Promise<string[]> {
  const rows = await ofSide(db, tenantId, [role]).where({ status: 'active' }).orderBy('principal_id').forUpdate().select('principal_id');
  return rows.map((r) => r.principal_id as string);
}

/** Mark an active principal revoked; its summary, or undefined when it was not active. */
export async function markRevoked(db: Knex, principalId: string, now: Date): Promise<PrincipalSummary | undefined> {
  const rows = await db('principals').where({ principal_id: principalId, status: 'active' }).update({ status: 'revoked', revoked_at: now }).returning(SUMMARY_COLUMNS);
  return rows[0] ? summaryOf(rows[0]) : undefined;
}

// Principals as the store holds them: public keys only. Lookups by id for authentication.

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

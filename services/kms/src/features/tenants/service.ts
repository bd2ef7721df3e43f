// Tenants and their enrollment: a cloud-admin creates a tenant and receives a one-time,
// expiring enrollment code (only its SHA-256 is stored); the tenant's security officer enrolls
// with their own public key and the code. The cloud-admin never holds a tenant credential.

import { createHash, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import type { Knex } from 'knex';
import { asProvider, asSystem, enterTenant } from '@sealkeep/store';
import { jwkThumbprint } from '@sealkeep/crypto';
import { Problem } from '../../http/problems.js';
import { insertPrincipal } from '../principals/store.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { principalLabel } from '../../http/mount.js';

export const ENROLLMENT_TTL_MS = 24 * 60 * 60 * 1000;

const hashCode = (code: string) => createHash('sha256').update(code, 'utf8').digest('hex');

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === '23505';
}

export interface CreatedTenant {
  tenantId: string;
  name: string;
  enrollment: { code: string; role: 'tenant-admin'; expiresAt: string; boundToKey: string | null };
}

export async function createTenant(db: Knex, actor: AuditActor, name: string, createdBy: string, officerKeyThumbprint: string | null = null, now = new Date()): Promise<CreatedTenant> {
  const tenantId = randomUUID();
  const code = `skenroll_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(now.getTime() + ENROLLMENT_TTL_MS);
  try {
    await asProvider(db, async (trx) => {
      await trx('tenants').insert({ tenant_id: tenantId, name });
      // The rest belongs to the new tenant: its enrollment code and the start of its chain.
      await enterTenant(trx, tenantId);
      await trx('enrollment_codes').insert({
        code_hash: hashCode(code),
        tenant_id: tenantId,
        role: 'tenant-admin',
        expires_at: expiresAt,
        created_by: createdBy,
        bound_thumbprint: officerKeyThumbprint,
      });
      // The tenant's own chain begins with its creation: who created it, and whether the code is key-bound.
      await appendAudit(trx, actor, {
        tenantId,
        action: 'tenant.create',
        resource: `tenant:${name}`,
        outcome: 'success',
        details: { enrollmentExpiresAt: expiresAt.toISOString(), enrollmentKeyFingerprint: officerKeyThumbprint },
      });
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new Problem('conflict', `a tenant named "${name}" exists`);
    throw e;
  }
  return { tenantId, name, enrollment: { code, role: 'tenant-admin', expiresAt: expiresAt.toISOString(), boundToKey: officerKeyThumbprint } };
}

export async function listTenants(db: Knex) {
  const rows = await asProvider(db, (trx) => trx('tenants').select('tenant_id', 'name', 'status', 'created_at').orderBy('created_at'));
  return rows.map((r) => ({ tenantId: r.tenant_id as string, name: r.name as string, status: r.status as string, createdAt: (r.created_at as Date).toISOString() }));
}

export interface Enrolled {
  principalId: string;
  tenantId: string;
  name: string;
  role: 'tenant-admin';
}

/** Spend an enrollment code: one use, before it expires; one answer for unknown, used or expired. */
export async function enroll(db: Knex, requestId: string, code: string, name: string, publicJwk: JsonWebKey, now = new Date()): Promise<Enrolled> {
  const principalId = randomUUID();
  try {
    return await asSystem(db, 'enroll: the tenant is known only from the code', async (trx) => {
      const row = await trx('enrollment_codes').where({ code_hash: hashCode(code) }).forUpdate().first();
      const thumbprint = jwkThumbprint(publicJwk);
      const keyAllowed = !row?.bound_thumbprint || row.bound_thumbprint === thumbprint;
      if (!row || row.used_at || new Date(row.expires_at) <= now || !keyAllowed) throw new Problem('enrollment-refused');
      await enterTenant(trx, row.tenant_id);
      await insertPrincipal(trx, {
        principal_id: principalId,
        tenant_id: row.tenant_id,
        name,
        role: row.role,
        public_jwk: publicJwk,
        jwk_thumbprint: thumbprint,
      });
      await trx('enrollment_codes').where({ code_hash: row.code_hash }).update({ used_at: now });
      const label = principalLabel({ name, role: row.role });
      await appendAudit(
        trx,
        { plane: 'tenant', principal: label, actorChain: [label], requestId },
        { tenantId: row.tenant_id, action: 'principal.enroll', resource: `principal:${name}`, outcome: 'success', details: { role: row.role, keyFingerprint: thumbprint } },
      );
      return { principalId, tenantId: row.tenant_id as string, name, role: 'tenant-admin' as const };
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new Problem('conflict', 'that key or name is already enrolled');
    throw e;
  }
}

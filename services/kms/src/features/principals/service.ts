// Principal administration, one side at a time: a tenant's officer enrolls, lists and revokes the
// tenant's principals; a cloud-admin does the same for the provider's operators (cloud-admins and
// reviewers). Only public keys are stored. Every change is audited in the side's chain (the
// tenant's, or the provider's) with the key's thumbprint, never the key. The last active
// administrator of a side cannot be revoked: the side would have no one left to manage it.

import { randomUUID, type JsonWebKey } from 'node:crypto';
import type { Knex } from 'knex';
import { inScope } from '@sealkeep/store';
import { importPublicJwk, JwsError, jwkThumbprint, publicJwk } from '@sealkeep/crypto';
import type { Role } from '../../auth/permissions.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { Problem } from '../../http/problems.js';
import { findPrincipalSummary, insertPrincipal, listPrincipalSummaries, lockActive, markRevoked, type PrincipalSummary } from './store.js';

/** Whose principals: a tenant's, or the provider's operators. */
export interface Side {
  /** The tenant; null for the provider. */
  tenantId: string | null;
  /** The roles administered on this side. */
  roles: readonly Role[];
  /** The role that administers the side; its last active holder stays. */
  adminRole: Role;
  /** The audit action prefix: `principal` (tenant) or `operator` (provider). */
  auditAs: 'principal' | 'operator';
}

export const TENANT_PRINCIPAL_ROLES = ['tenant-admin', 'tenant-user', 'delegate'] as const satisfies readonly Role[];
export const OPERATOR_ROLES = ['cloud-admin', 'reviewer'] as const satisfies readonly Role[];

export function tenantSide(tenantId: string): Side {
  return { tenantId, roles: TENANT_PRINCIPAL_ROLES, adminRole: 'tenant-admin', auditAs: 'principal' };
}

export const PROVIDER_SIDE: Side = { tenantId: null, roles: OPERATOR_ROLES, adminRole: 'cloud-admin', auditAs: 'operator' };

export interface NewPrincipal {
  name: string;
  role: Role;
  publicJwk: JsonWebKey;
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string })?.code === '23505';
}

/** The public key as stored (kty, crv, x[, y] only), or a 400 naming why it is unusable. */
function acceptedKey(jwk: JsonWebKey): { jwk: JsonWebKey; thumbprint: string } {
  try {
    const normalised = publicJwk(importPublicJwk(jwk));
    return { jwk: normalised, thumbprint: jwkThumbprint(normalised) };
  } catch (e) {
    if (!(e instanceof JwsError)) throw e;
    throw new Problem('validation-failed', 'invalid body', { errors: [{ in: 'body', path: 'publicJwk', message: e.message }] });
  }
}

export async function enrollPrincipal(db: Knex, actor: AuditActor, side: Side, given: NewPrincipal): Promise<PrincipalSummary> {
  if (!side.roles.includes(given.role)) throw new Problem('validation-failed', `the role must be one of ${side.roles.join(', ')}`);
  const key = acceptedKey(given.publicJwk);
  const principalId = randomUUID();
  try {
    return await inScope(db, side.tenantId, async (trx) => {
      await insertPrincipal(trx, { principal_id: principalId, tenant_id: side.tenantId, name: given.name, role: given.role, public_jwk: key.jwk, jwk_thumbprint: key.thumbprint });
      await appendAudit(trx, actor, {
        tenantId: side.tenantId,
        action: `${side.auditAs}.enroll`,
        resource: `principal:${given.name}`,
        outcome: 'success',
        details: { principalId, role: given.role, keyFingerprint: key.thumbprint },
      });
      return (await findPrincipalSummary(trx, side.tenantId, side.roles, principalId))!;
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new Problem('conflict', 'a principal with that name or that key is already enrolled');
    throw e;
  }
}

export function listPrincipals(db: Knex, side: Side): Promise<PrincipalSummary[]> {
  return inScope(db, side.tenantId, (trx) => listPrincipalSummaries(trx, side.tenantId, side.roles));
}

/**
 * Revoke a principal of the side: its next request is refused (401). Refused with 409 when it is
 * already revoked, or when it is the side's last active administrator. Administrators are locked
 * in id order first, so two officers revoking each other at once cannot both succeed.
 */
export function revokePrincipal(db: Knex, actor: AuditActor, side: Side, principalId: string, now = new Date()): Promise<PrincipalSummary> {
  return inScope(db, side.tenantId, async (trx) => {
    const target = await findPrincipalSummary(trx, side.tenantId, side.roles, principalId);
    if (!target) throw new Problem('not-found', 'no such principal');
    if (target.role === side.adminRole) {
      const activeAdmins = await lockActive(trx, side.tenantId, side.adminRole);
      if (activeAdmins.includes(principalId) && activeAdmins.length === 1) {
        throw new Problem('conflict', `${target.name} is the last active ${side.adminRole}; enroll another before revoking this one`);
      }
    }
    const revoked = await markRevoked(trx, principalId, now);
    if (!revoked) throw new Problem('conflict', `${target.name} is already revoked`);
    await appendAudit(trx, actor, {
      tenantId: side.tenantId,
      action: `${side.auditAs}.revoke`,
      resource: `principal:${target.name}`,
      outcome: 'success',
      details: { principalId, role: target.role, keyFingerprint: target.keyThumbprint },
    });
    return revoked;
  });
}

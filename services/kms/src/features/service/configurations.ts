// The store side of the measured start: the sealed root (one row), the configurations the
// service has been started with and their approvals. Provider rows only (asProvider).

import type { Knex } from 'knex';
import type { JsonWebKey } from 'node:crypto';
import type { ServiceDigests } from '@sealkeep/attestation';
import type { SealedRoot } from '../../platform/service-root.js';
import type { ServiceMeasurements } from '../../platform/measure.js';

export interface ConfigurationRow {
  code_digest: string;
  configuration_digest: string;
  code_manifest: string;
  configuration: string;
  first_seen_at: Date;
  last_started_at: Date | null;
  approval: 'first-start' | 'signed' | null;
  approval_signature: Buffer | null;
  approved_by: string | null;
  approved_at: Date | null;
  approval_audited: boolean;
}

const key = (d: ServiceDigests) => ({ code_digest: d.codeDigest, configuration_digest: d.configurationDigest });

/** Record a configuration the service was measured with (once; later starts keep the first sighting). */
export async function recordConfiguration(trx: Knex.Transaction, m: ServiceMeasurements): Promise<ConfigurationRow> {
  await trx('service_configurations')
    .insert({ ...key(m), code_manifest: m.codeManifest, configuration: m.configuration })
    .onConflict(['code_digest', 'configuration_digest'])
    .ignore();
  return trx<ConfigurationRow>('service_configurations').where(key(m)).first() as Promise<ConfigurationRow>;
}

export async function findConfiguration(db: Knex | Knex.Transaction, d: ServiceDigests): Promise<ConfigurationRow | undefined> {
  return db<ConfigurationRow>('service_configurations').where(key(d)).first();
}

/** Configurations waiting for an approval, newest first. */
export async function pendingConfigurations(db: Knex | Knex.Transaction): Promise<ConfigurationRow[]> {
  return db<ConfigurationRow>('service_configurations').whereNull('approval').orderBy('first_seen_at', 'desc');
}

/** The latest approved configuration (what a pending one is compared with). */
export async function latestApproved(db: Knex | Knex.Transaction): Promise<ConfigurationRow | undefined> {
  return db<ConfigurationRow>('service_configurations').whereNotNull('approval').orderBy([{ column: 'approved_at', order: 'desc' }]).first();
}

export async function markApproved(trx: Knex.Transaction, d: ServiceDigests, approval: { kind: 'first-start' | 'signed'; signature?: Buffer; by: string }): Promise<void> {
  await trx('service_configurations').where(key(d)).update({
    approval: approval.kind,
    approval_signature: approval.signature ?? null,
    approved_by: approval.by,
    approved_at: trx.fn.now(),
  });
}

export async function markStarted(trx: Knex.Transaction, d: ServiceDigests): Promise<void> {
  await trx('service_configurations').where(key(d)).update({ last_started_at: trx.fn.now(), approval_audited: true });
}

export interface RootRow {
  sealed: SealedRoot;
  approverPrincipalId: string;
}

export async function loadRoot(db: Knex | Knex.Transaction): Promise<RootRow | undefined> {
  const row = await db('service_root').where({ id: 1 }).first();
  if (!row) return undefined;
  return {
    sealed: {
      publicArea: row.public_area,
      privateBlob: row.private_blob,
      approver: row.approver_jwk as JsonWebKey,
      firstStart: { codeDigest: row.first_code_digest, configurationDigest: row.first_configuration_digest },
    },
    approverPrincipalId: row.approver_principal_id,
  };
}

export async function saveRoot(trx: Knex.Transaction, sealed: SealedRoot, approverPrincipalId: string): Promise<void> {
  await trx('service_root').insert({
    id: 1,
    public_area: sealed.publicArea,
    private_blob: sealed.privateBlob,
    approver_jwk: JSON.stringify(sealed.approver),
    approver_principal_id: approverPrincipalId,
    first_code_digest: sealed.firstStart.codeDigest,
    first_configuration_digest: sealed.firstStart.configurationDigest,
  });
}

/** The configuration approver for a new root: the first cloud-admin whose key is ES256 (P-256). */
export async function firstApprover(db: Knex | Knex.Transaction): Promise<{ principalId: string; name: string; jwk: JsonWebKey } | undefined> {
  const rows = await db('principals').where({ role: 'cloud-admin', status: 'active' }).orderBy('created_at');
  const row = rows.find((r) => (r.public_jwk as JsonWebKey).kty === 'EC' && (r.public_jwk as JsonWebKey).crv === 'P-256');
  return row ? { principalId: row.principal_id, name: row.name, jwk: row.public_jwk } : undefined;
}

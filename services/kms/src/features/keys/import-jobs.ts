// Bring your own key (docs/byok.md). An import job gives the tenant's officer a wrapping key
// made in the host TPM, its certification by the AK with the manufacturer's certificates
// (evidence the officer checks offline), and a one-use token good for at most 24 hours. The
// import opens the RSA layer in the TPM (TPM2_RSA_Decrypt), the RFC 5649 layer in memory, and
// hands the material straight to the TPM; only the resulting TPM blob is stored. Whatever goes
// wrong in between is one answer, import-failed, and the attempt is audited.

import { createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { importJobQualifyingData, IMPORT_EVIDENCE_FORMAT, KWP_ALTERNATIVE_IV } from '@sealkeep/crypto';
import { marshal, publicKeyOfArea, TPM_ALG, unmarshal, wire } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { recordNewKey, recordNewVersion, summarize, type Cia, type KeySummary } from './lifecycle.js';
import type { KeyType } from './key-types.js';
import type { WrappingKey } from './key-engine.js';
import type { KeysContext } from './keys-context.js';
import { findImportJobByToken, findKeyByName, insertImportJob, spendImportJob, versionsOf, VOLUME_KEY_TYPE, type ImportJobRow } from './store.js';

export const IMPORT_JOB_HOURS = 24;
export const WRAPPING_SPECS = { 'rsa-3072': 3072, 'rsa-4096': 4096 } as const;
export type WrappingSpec = keyof typeof WRAPPING_SPECS;
export const WRAPPING_ALGORITHMS = ['rsa-aes-key-wrap-sha256', 'rsa-oaep-sha256'] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export interface NewImportJob {
  keyName: string;
  keyType: KeyType | typeof VOLUME_KEY_TYPE;
  wrappingKeySpec?: WrappingSpec | undefined;
  nonce?: string | undefined;
}

export async function createImportJob(ctx: KeysContext, db: Knex, actor: AuditActor, tenantId: string, req: NewImportJob) {
  if (!ctx.endorsement) throw new Problem('keys-unavailable', 'the host TPM holds no manufacturer certificates, so an import job could prove nothing');
  const spec = req.wrappingKeySpec ?? 'rsa-3072';
  const nonce = Buffer.from(req.nonce ?? '', 'base64url');
  const existing = await inTenant(db, tenantId, async (trx) => {
    if (req.keyType !== VOLUME_KEY_TYPE) return findKeyByName(trx, tenantId, req.keyName);
    // A volume's DEK: the job names the volume, which must be the tenant's and have no key yet.
    const volumeId = /^volume-([0-9a-f-]{36})$/.exec(req.keyName)?.[1];
    const volume = volumeId && (await trx('volumes').where({ tenant_id: tenantId, volume_id: volumeId }).first());
    if (!volume) throw new Problem('validation-failed', 'a volume-key import names its volume: keyName volume-<volume id>');
    if (await trx('volume_keys').where({ tenant_id: tenantId, volume_id: volumeId }).first()) throw new Problem('conflict', 'the volume has a key already');
    return undefined;
  });
  if (existing && existing.type !== req.keyType) throw new Problem('conflict', `the key ${req.keyName} is a ${existing.type} key`);
  if (existing && existing.state !== 'enabled') throw new Problem('key-not-enabled', `the key ${req.keyName} is ${existing.state}`);

  const jobId = randomUUID();
  const importToken = randomBytes(32).toString('base64url');
  const wrapping = await ctx.engine.createWrappingKey(jobId, WRAPPING_SPECS[spec]);
  const certified = await ctx.engine.certify(jobId, wrapping, importJobQualifyingData(jobId, nonce));
  const wrappingPublic = marshal(wire.TPMT_PUBLIC, wrapping.publicArea);
  const expiresAt = await inTenant(db, tenantId, async (trx) => {
    const expires = new Date(Date.now() + IMPORT_JOB_HOURS * 3600_000);
    await insertImportJob(trx, { job_id: jobId, tenant_id: tenantId, key_name: req.keyName, key_type: req.keyType, token_sha256: tokenHash(importToken), wrapping_public_area: wrappingPublic, wrapping_private_blob: wrapping.privateBlob, expires_at: expires });
    await appendAudit(trx, actor, { tenantId, action: 'key.import-job.create', resource: `import-job:${jobId}`, outcome: 'success', details: { ...(req.keyType === VOLUME_KEY_TYPE ? { volumeId: req.keyName.slice('volume-'.length) } : { keyName: req.keyName }), keyType: req.keyType, wrappingKeySpec: spec, expiresAt: expires.toISOString() } });
    return expires.toISOString();
  });
  // The TPM Name: nameAlg (SHA-256, as the wrapping key's template sets it) ‖ SHA-256(TPMT_PUBLIC).
  const name = Buffer.concat([Buffer.from([0x00, TPM_ALG.SHA256]), createHash('sha256').update(wrappingPublic).digest()]);
  const e = ctx.endorsement;
  return {
    importJobId: jobId,
    importToken,
    keyName: req.keyName,
    keyType: req.keyType,
    newVersionOf: existing?.key_id ?? null,
    expiresAt,
    wrappingKey: { spkiPem: publicKeyOfArea(wrapping.publicArea).export({ type: 'spki', format: 'pem' }).toString(), tpmPublic: wrappingPublic.toString('base64'), name: name.toString('hex') },
    evidence: {
      format: IMPORT_EVIDENCE_FORMAT,
      importJobId: jobId,
      nonce: nonce.toString('base64url'),
      certify: { attest: certified.attest.toString('base64'), signature: certified.signature.toString('base64') },
      wrappingKey: { tpmPublic: wrappingPublic.toString('base64'), name: name.toString('hex') },
      attestationKey: { tpmPublic: ctx.engine.attestationKey.publicArea.toString('base64'), certificatePem: e.akCertificatePem },
      ekCertificatePem: e.ekCertificatePem,
      manufacturerRootPem: e.manufacturerRootPem ?? '',
    },
  };
}

export interface WrappedImport {
  importToken: string;
  wrappingAlgorithm: WrappingAlgorithm;
  wrappedKey: string;
  cia?: Cia | undefined;
  description?: string | undefined;
}

/** The job a token opens, if it is this tenant's, unspent and unexpired. */
export async function openJob(trx: Knex.Transaction, tenantId: string, token: string): Promise<ImportJobRow & { wrapping_public_area: Buffer; wrapping_private_blob: Buffer }> {
  const job = await findImportJobByToken(trx, tenantId, tokenHash(token));
  if (!job || job.spent_at || new Date(job.expires_at) <= new Date() || !job.wrapping_private_blob || !job.wrapping_public_area) throw new Problem('import-token-invalid');
  return job as ImportJobRow & { wrapping_public_area: Buffer; wrapping_private_blob: Buffer };
}

/** Open both layers; throws (anything) when either does not open. */
export async function unwrap(ctx: KeysContext, job: ImportJobRow, key: WrappingKey, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer> {
  const modulusBytes = (key.publicArea.parameters as { keyBits: number }).keyBits / 8;
  if (algorithm === 'rsa-oaep-sha256') {
    if (wrapped.length !== modulusBytes) throw new Error('length');
    return ctx.engine.rsaDecrypt(job.job_id, key, wrapped);
  }
  if (wrapped.length <= modulusBytes + 8) throw new Error('length');
  const kek = await ctx.engine.rsaDecrypt(job.job_id, key, wrapped.subarray(0, modulusBytes));
  try {
    if (kek.length !== 32) throw new Error('length');
    const d = createDecipheriv('id-aes256-wrap-pad', kek, KWP_ALTERNATIVE_IV);
    return Buffer.concat([d.update(wrapped.subarray(modulusBytes)), d.final()]);
  } finally {
    kek.fill(0);
  }
}

export async function importWrappedKey(ctx: KeysContext, db: Knex, actor: AuditActor, tenantId: string, req: WrappedImport): Promise<KeySummary> {
  const { job, existing } = await inTenant(db, tenantId, async (trx) => {
    const job = await openJob(trx, tenantId, req.importToken);
    if (job.key_type === VOLUME_KEY_TYPE) throw new Problem('import-token-invalid', "this token imports a volume's key: POST it to the volume's /key");
    return { job, existing: await findKeyByName(trx, tenantId, job.key_name) };
  });
  const keyId = existing?.key_id ?? randomUUID();
  const version = existing ? existing.primary_version + 1 : 1;
  const wrappingKey: WrappingKey = { publicArea: unmarshal(wire.TPMT_PUBLIC, job.wrapping_public_area), privateBlob: job.wrapping_private_blob };

  let sealed;
  let material: Buffer | undefined;
  try {
    material = await unwrap(ctx, job, wrappingKey, req.wrappingAlgorithm, Buffer.from(req.wrappedKey, 'base64'));
    sealed = await ctx.engine.importMaterial(job.key_type as KeyType, keyId, version, material);
  } catch {
    await inTenant(db, tenantId, (trx) =>
      appendAudit(trx, actor, { tenantId, action: 'key.import', resource: `import-job:${job.job_id}`, outcome: 'failure', details: { keyName: job.key_name, keyType: job.key_type } }),
    );
    throw new Problem('import-failed');
  } finally {
    material?.fill(0);
  }

  return inTenant(db, tenantId, async (trx) => {
    await openJob(trx, tenantId, req.importToken); // spent by a concurrent import meanwhile?
    const k = existing
      ? await recordNewVersion(trx, actor, existing, version, sealed, 'imported')
      : await recordNewKey(trx, actor, tenantId, keyId, { name: job.key_name, type: job.key_type as KeyType, cia: req.cia, description: req.description }, sealed, 'imported');
    await spendImportJob(trx, tenantId, job.job_id, keyId);
    return summarize(k, await versionsOf(trx, tenantId, [keyId]));
  });
}

/** Erase the wrapping keys of jobs that expired unspent (their tokens are already useless). */
export async function eraseExpiredImportJobs(trx: Knex.Transaction): Promise<number> {
  return trx('import_jobs').whereNull('spent_at').andWhere('expires_at', '<=', trx.fn.now()).whereNotNull('wrapping_private_blob').update({ wrapping_private_blob: null, wrapping_public_area: null });
}

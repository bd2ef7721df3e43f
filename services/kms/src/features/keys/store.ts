// The keys feature's queries. Every function takes a transaction already in the tenant's scope
// (inTenant), and names the tenant in its where clause as well: row-level security is the
// second wall, not the first.

import type { Knex } from 'knex';
import type { KeyType } from './key-types.js';

/** An import job's type for a volume's DEK (its key name is `volume-<volume id>`). */
export const VOLUME_KEY_TYPE = 'volume-key';

export type KeyState = 'enabled' | 'disabled' | 'pending-destruction' | 'destroyed';
export type Level = 'low' | 'moderate' | 'high';

export interface KeyRow {
  key_id: string;
  tenant_id: string;
  name: string;
  type: KeyType;
  state: KeyState;
  primary_version: number;
  confidentiality: Level;
  integrity: Level;
  availability: Level;
  description: string;
  created_at: Date;
  updated_at: Date;
  destroy_after: Date | null;
  destroyed_at: Date | null;
}

export interface VersionRow {
  key_id: string;
  version: number;
  tenant_id: string;
  origin: 'generated' | 'imported';
  public_area: Buffer | null;
  private_blob: Buffer | null;
  public_key_spki: Buffer | null;
  created_at: Date;
}

export interface ImportJobRow {
  job_id: string;
  tenant_id: string;
  key_name: string;
  /** A key type, or `volume-key`: a volume's DEK, imported into its VM's vTPM (blocks/volume-import.ts). */
  key_type: KeyType | typeof VOLUME_KEY_TYPE;
  token_sha256: Buffer;
  wrapping_public_area: Buffer | null;
  wrapping_private_blob: Buffer | null;
  expires_at: Date;
  spent_at: Date | null;
  key_id: string | null;
}

export const insertKey = (trx: Knex.Transaction, row: Omit<KeyRow, 'created_at' | 'updated_at' | 'destroy_after' | 'destroyed_at'>) => trx('keys').insert(row);

export async function findKey(trx: Knex.Transaction, tenantId: string, keyId: string, opts: { lock?: boolean } = {}): Promise<KeyRow | undefined> {
  const q = trx('keys').where({ tenant_id: tenantId, key_id: keyId });
  return (opts.lock ? q.forUpdate() : q).first() as Promise<KeyRow | undefined>;
}

export async function findKeyByName(trx: Knex.Transaction, tenantId: string, name: string, opts: { lock?: boolean } = {}): Promise<KeyRow | undefined> {
  const q = trx('keys').where({ tenant_id: tenantId, name });
  return (opts.lock ? q.forUpdate() : q).first() as Promise<KeyRow | undefined>;
}

export const listKeys = (trx: Knex.Transaction, tenantId: string): Promise<KeyRow[]> => trx('keys').where({ tenant_id: tenantId }).orderBy('created_at');

export async function updateKey(trx: Knex.Transaction, tenantId: string, keyId: string, changes: Partial<KeyRow>): Promise<KeyRow> {
  const [row] = (await trx('keys').where({ tenant_id: tenantId, key_id: keyId }).update({ ...changes, updated_at: trx.fn.now() }).returning('*')) as KeyRow[];
  return row!;
}

export const insertVersion = (trx: Knex.Transaction, row: Omit<VersionRow, 'created_at'>) => trx('key_versions').insert(row);

export const versionsOf = (trx: Knex.Transaction, tenantId: string, keyIds: readonly string[]): Promise<VersionRow[]> =>
  trx('key_versions').where({ tenant_id: tenantId }).whereIn('key_id', keyIds).orderBy(['key_id', 'version']);

export const findVersion = (trx: Knex.Transaction, tenantId: string, keyId: string, version: number): Promise<VersionRow | undefined> =>
  trx('key_versions').where({ tenant_id: tenantId, key_id: keyId, version }).first();

/** Crypto-shredding: every TPM blob of the key is erased; the public key of a signing key stays for verification records. */
export const eraseVersions = (trx: Knex.Transaction, tenantId: string, keyId: string) =>
  trx('key_versions').where({ tenant_id: tenantId, key_id: keyId }).update({ private_blob: null, public_area: null });

export const insertImportJob = (trx: Knex.Transaction, row: Omit<ImportJobRow, 'spent_at' | 'key_id'>) => trx('import_jobs').insert(row);

export async function findImportJobByToken(trx: Knex.Transaction, tenantId: string, tokenSha256: Buffer): Promise<ImportJobRow | undefined> {
  return trx('import_jobs').where({ tenant_id: tenantId, token_sha256: tokenSha256 }).forUpdate().first() as Promise<ImportJobRow | undefined>;
}

/** A job is spent once: its wrapping key's blobs go with it. */
export const spendImportJob = (trx: Knex.Transaction, tenantId: string, jobId: string, keyId: string) =>
  trx('import_jobs').where({ tenant_id: tenantId, job_id: jobId }).update({ spent_at: trx.fn.now(), key_id: keyId, wrapping_private_blob: null, wrapping_public_area: null });

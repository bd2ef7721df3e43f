// Bring your own key, the tenant's side (docs/byok.md): ask the service for an import job under a
// fresh nonce, verify the job's evidence offline against the manufacturer root the tenant pinned,
// and only when every check holds wrap the key on this machine and upload the wrapped bytes with
// the job's import token. A dry run stops at the verdict. The plaintext is never sent.

import { randomBytes } from 'node:crypto';
import { signedRequest, type Signer } from '../client.js';
import { verifyImportEvidence, type ImportEvidenceVerdict } from './evidence.js';
import { checkMaterial, readKeyFile, type KeyType } from './key-material.js';
import { MAX_RSA_OAEP_MATERIAL, wrapKeyMaterial, type WrappingAlgorithm } from './wrap.js';

export interface ImportClient {
  /** The tenant plane's base URL. */
  baseUrl: string;
  signer: Signer;
  tenantId: string;
}

export type CiaLevel = 'low' | 'moderate' | 'high';
/** FIPS 199 confidentiality / integrity / availability of the key. */
export interface Cia {
  confidentiality: CiaLevel;
  integrity: CiaLevel;
  availability: CiaLevel;
}

export interface ImportKeyRequest {
  /** A key file (key-material.ts reads it), or the material itself with its keyType. */
  file?: string;
  material?: Buffer;
  /** Required with `material` and for secret key files; checked against what a key file holds. */
  keyType?: KeyType;
  keyName: string;
  cia?: Cia;
  description?: string;
  /** The manufacturer root, obtained out of band: the evidence is checked against it. */
  trustedRootPem: string;
  wrappingAlgorithm?: WrappingAlgorithm;
  wrappingKeySpec?: 'rsa-3072' | 'rsa-4096';
  /** Stop after verifying the evidence: nothing is wrapped or uploaded. */
  dryRun?: boolean;
}

/** The service's answer to POST /v1/tenants/{tenantId}/import-jobs. */
export interface ImportJob {
  importJobId: string;
  importToken: string;
  keyName: string;
  keyType: string;
  /** The key this import adds a version to (same name and type), or null for a new key. */
  newVersionOf?: string | null;
  expiresAt: string;
  /** Informational: the SDK wraps to the key in the verified evidence, never to this PEM. */
  wrappingKey: { spkiPem: string; tpmPublic: string; name: string };
  evidence: unknown;
}

/** The service's answer to the import: the key (its summary), with the version just imported as primary. */
export interface ImportedKey {
  keyId: string;
  name: string;
  type: string;
  state: string;
  primaryVersion: number;
  cia: Cia;
  versions: Array<{ version: number; origin: string; createdAt: string }>;
  [field: string]: unknown;
}

export interface ImportKeyResult {
  importJobId: string;
  keyName: string;
  keyType: KeyType;
  /** The existing key the import adds a version to, or null for a new key. */
  newVersionOf: string | null;
  expiresAt: string;
  verdict: ImportEvidenceVerdict;
  /** The imported key; null after a dry run. */
  key: ImportedKey | null;
}

/** The evidence failed; nothing was wrapped or uploaded. */
export class ImportEvidenceRejected extends Error {
  override name = 'ImportEvidenceRejected';
  constructor(readonly verdict: ImportEvidenceVerdict) {
    const failed = verdict.checks.filter((c) => !c.ok);
    super(`the import evidence failed ${failed.length} check${failed.length === 1 ? '' : 's'}; nothing was wrapped or sent:\n${failed.map((c) => `  ✗ ${c.id}: ${c.message}`).join('\n')}`);
  }
}

/** 32 random bytes, base64url: the officer's freshness for this job's certification. */
export const importNonce = (): string => randomBytes(32).toString('base64url');

function materialOf(request: ImportKeyRequest): { keyType: KeyType; material: Buffer; owned: boolean } {
  if (request.file !== undefined && request.material !== undefined) throw new Error('give a key file or the material, not both');
  if (request.file !== undefined) return { ...readKeyFile(request.file, request.keyType), owned: true };
  if (!request.material || !request.keyType) throw new Error('give a key file, or the material and its key type');
  checkMaterial(request.keyType, request.material);
  return { keyType: request.keyType, material: request.material, owned: false };
}

export async function importKey(client: ImportClient, request: ImportKeyRequest): Promise<ImportKeyResult> {
  const { keyType, material, owned } = materialOf(request);
  try {
    const algorithm = request.wrappingAlgorithm ?? 'rsa-aes-key-wrap-sha256';
    if (algorithm === 'rsa-oaep-sha256' && material.length > MAX_RSA_OAEP_MATERIAL) {
      throw new Error(`rsa-oaep-sha256 carries at most ${MAX_RSA_OAEP_MATERIAL} bytes and this ${keyType} material is ${material.length}; use rsa-aes-key-wrap-sha256`);
    }
    const tenant = `/v1/tenants/${encodeURIComponent(client.tenantId)}`;
    const nonce = importNonce();
    const job = (await signedRequest(client.baseUrl, client.signer, 'POST', `${tenant}/import-jobs`, {
      keyName: request.keyName,
      keyType,
      ...(request.wrappingKeySpec ? { wrappingKeySpec: request.wrappingKeySpec } : {}),
      nonce,
    })) as ImportJob;
    if (job.keyName !== request.keyName || job.keyType !== keyType) {
      throw new Error(`the service opened an import job for ${String(job.keyName)} (${String(job.keyType)}), not ${request.keyName} (${keyType})`);
    }
    const verdict = verifyImportEvidence(job.evidence, { trustedRootPem: request.trustedRootPem, importJobId: job.importJobId, nonce });
    const result = { importJobId: job.importJobId, keyName: job.keyName, keyType, newVersionOf: job.newVersionOf ?? null, expiresAt: job.expiresAt, verdict, key: null };
    if (request.dryRun) return result;
    if (!verdict.ok || !verdict.wrappingPublicKey) throw new ImportEvidenceRejected(verdict);

    const wrappedKey = wrapKeyMaterial(material, verdict.wrappingPublicKey, algorithm).toString('base64');
    const key = (await signedRequest(client.baseUrl, client.signer, 'POST', `${tenant}/keys/import`, {
      importToken: job.importToken,
      wrappingAlgorithm: algorithm,
      wrappedKey,
      ...(request.cia ? { cia: request.cia } : {}),
      ...(request.description !== undefined ? { description: request.description } : {}),
    })) as ImportedKey;
    return { ...result, key };
  } finally {
    if (owned) material.fill(0);
  }
}

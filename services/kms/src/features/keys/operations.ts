// Using a tenant's key: encrypt/decrypt (AES-256-GCM with the caller's AAD), wrap/unwrap of data
// keys (RFC 5649), sign/verify (ECDSA, RSASSA-PKCS1-v1_5, RSA-PSS; signing in the TPM), and
// HMAC (in the TPM). Each request holds one item or a batch; a batch answers item by item, so
// one bad ciphertext does not fail the rest. The key must be enabled; new results use its
// primary version, old ciphertexts and signatures name theirs. One audit entry per request,
// holding the operation, the item count and the versions used — never an input or a result.

import { constants, createHash, timingSafeEqual, verify } from 'node:crypto';
import type { Knex } from 'knex';
import { inTenant } from '@sealkeep/store';
import { asn1, TPM_ALG } from '@sealkeep/tpm';
import { Problem } from '../../http/problems.js';
import { appendAudit, type AuditActor } from '../../audit/audit-log.js';
import { KEY_TYPE_SPECS, type Operation } from './key-types.js';
import type { StoredVersion } from './key-engine.js';
import type { KeysContext } from './keys-context.js';
import { openGcm, sealGcm, unwrapKwp, versionOf, wrapKwp } from './envelope.js';
import { requireKey } from './lifecycle.js';
import { findVersion, type KeyRow, type VersionRow } from './store.js';

export type SignatureAlgorithm = 'ecdsa' | 'rsassa-pkcs1-v1_5' | 'rsa-pss';

export interface OperationItem {
  plaintext?: string;
  ciphertext?: string;
  aad?: string;
  key?: string;
  wrappedKey?: string;
  message?: string;
  signature?: string;
  mac?: string;
  keyVersion?: number;
  algorithm?: SignatureAlgorithm;
}

type Result = Record<string, unknown>;
const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');

/** The key versions a request reads, loaded once each. */
class Versions {
  readonly #cache = new Map<number, VersionRow | undefined>();
  readonly used = new Set<number>();
  constructor(
    private readonly trx: Knex.Transaction,
    readonly key: KeyRow,
  ) {}

  async get(version: number): Promise<StoredVersion & { spki: Buffer | null }> {
    if (!this.#cache.has(version)) this.#cache.set(version, await findVersion(this.trx, this.key.tenant_id, this.key.key_id, version));
    const row = this.#cache.get(version);
    if (!row?.private_blob || !row.public_area) throw new Problem('decryption-failed', `the key has no version ${version}`);
    this.used.add(version);
    return { keyId: row.key_id, version, type: this.key.type, publicArea: row.public_area, privateBlob: row.private_blob, spki: row.public_key_spki };
  }
}

function signatureScheme(k: KeyRow, algorithm: SignatureAlgorithm | undefined): { scheme: number; hashAlg: number; hash: 'sha256' | 'sha384'; algorithm: SignatureAlgorithm } {
  const spec = KEY_TYPE_SPECS[k.type];
  if (spec.kind === 'ec') {
    if (algorithm && algorithm !== 'ecdsa') throw new Problem('operation-not-supported', `an ${k.type} key signs with ecdsa`);
    return { scheme: TPM_ALG.ECDSA, hashAlg: spec.hash === 'sha384' ? TPM_ALG.SHA384 : TPM_ALG.SHA256, hash: spec.hash!, algorithm: 'ecdsa' };
  }
  const chosen = algorithm ?? 'rsassa-pkcs1-v1_5';
  if (chosen === 'ecdsa') throw new Problem('operation-not-supported', `an ${k.type} key signs with rsassa-pkcs1-v1_5 or rsa-pss`);
  return { scheme: chosen === 'rsa-pss' ? TPM_ALG.RSAPSS : TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256, hash: 'sha256', algorithm: chosen };
}

function verifySignature(k: KeyRow, spki: Buffer, message: Buffer, signature: Buffer, algorithm: SignatureAlgorithm | undefined): boolean {
  const s = signatureScheme(k, algorithm);
  const key = { key: spki, format: 'der' as const, type: 'spki' as const };
  if (s.algorithm === 'rsa-pss') return verify(s.hash, message, { ...key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
  return verify(s.hash, message, { ...key, dsaEncoding: 'der' }, signature);
}

function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

type Runner = (ctx: KeysContext, v: Versions, item: OperationItem) => Promise<Result>;

const RUNNERS: Record<Operation, Runner> = {
  async encrypt(ctx, v, item) {
    const version = await v.get(v.key.primary_version);
    return { ciphertext: sealGcm(await ctx.engine.secret(version), v.key.key_id, version.version, b64(item.plaintext), b64(item.aad)).toString('base64'), keyVersion: version.version };
  },
  async decrypt(ctx, v, item) {
    const blob = b64(item.ciphertext);
    const version = await v.get(versionOf(blob, 'ciphertext'));
    return { plaintext: openGcm(await ctx.engine.secret(version), v.key.key_id, blob, b64(item.aad)).toString('base64'), keyVersion: version.version };
  },
  async wrap(ctx, v, item) {
    const version = await v.get(v.key.primary_version);
    return { wrappedKey: wrapKwp(await ctx.engine.secret(version), version.version, b64(item.key)).toString('base64'), keyVersion: version.version };
  },
  async unwrap(ctx, v, item) {
    const blob = b64(item.wrappedKey);
    const version = await v.get(versionOf(blob, 'wrapped'));
    return { key: unwrapKwp(await ctx.engine.secret(version), blob).toString('base64'), keyVersion: version.version };
  },
  async sign(ctx, v, item) {
    const version = await v.get(v.key.primary_version);
    const s = signatureScheme(v.key, item.algorithm);
    const sig = await ctx.engine.sign(version, createHash(s.hash).update(b64(item.message)).digest(), s);
    const bytes = s.scheme === TPM_ALG.ECDSA
      ? asn1.seq(asn1.uint((sig.signature as { signatureR: Buffer }).signatureR), asn1.uint((sig.signature as { signatureS: Buffer }).signatureS))
      : (sig.signature as { sig: Buffer }).sig;
    return { signature: bytes.toString('base64'), keyVersion: version.version, algorithm: s.algorithm };
  },
  async verify(_ctx, v, item) {
    const version = await v.get(item.keyVersion ?? v.key.primary_version);
    return { valid: verifySignature(v.key, version.spki!, b64(item.message), b64(item.signature), item.algorithm), keyVersion: version.version };
  },
  async hmac(ctx, v, item) {
    const version = await v.get(v.key.primary_version);
    const [mac] = await ctx.engine.hmac(version, [b64(item.message)]);
    return { mac: mac!.toString('base64'), keyVersion: version.version };
  },
  async 'hmac-verify'(ctx, v, item) {
    const version = await v.get(item.keyVersion ?? v.key.primary_version);
    const [mac] = await ctx.engine.hmac(version, [b64(item.message)]);
    return { valid: sameMac(mac!, b64(item.mac)), keyVersion: version.version };
  },
};

/**
 * Run `op` over `items` with the tenant's key. `batch` answers `{ results: [...] }` with a
 * problem in place of each item that failed; otherwise the one item's result or its problem.
 */
export async function runOperation(ctx: KeysContext, db: Knex, actor: AuditActor, tenantId: string, keyId: string, op: Operation, items: readonly OperationItem[], batch: boolean): Promise<Result> {
  const results = await inTenant(db, tenantId, async (trx) => {
    const key = await requireKey(trx, tenantId, keyId);
    if (key.state !== 'enabled') throw new Problem('key-not-enabled', `the key is ${key.state}`);
    if (!KEY_TYPE_SPECS[key.type].operations.includes(op)) throw new Problem('operation-not-supported', `a ${key.type} key does not ${op}`);
    const versions = new Versions(trx, key);
    const results: Array<Result | Problem> = [];
    for (const item of items) {
      try {
        results.push(await RUNNERS[op](ctx, versions, item));
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        results.push(e);
      }
    }
    const failed = results.filter((r) => r instanceof Problem).length;
    await appendAudit(trx, actor, {
      tenantId,
      action: `key.${op}`,
      resource: `key:${key.key_id}`,
      outcome: failed === results.length ? 'failure' : 'success',
      details: { items: items.length, failed, versions: [...versions.used].sort((a, b) => a - b).join(',') },
    });
    return results;
  });
  if (batch) return { results: results.map((r) => (r instanceof Problem ? { error: r.body() } : r)) };
  if (results[0] instanceof Problem) throw results[0];
  return results[0]!;
}

// The key types a tenant can hold, in one table: how each is kept in the host TPM, what material
// an import must carry, and which operations it serves. Everything else about a type is derived
// from this table.
//
//   aes-256       sealed data (keyedHash, no sign/decrypt) holding 32 bytes: AES-256-GCM, key wrap
//   xts-aes-256   sealed data holding 64 bytes (two different halves): volume keys for the data plane
//   hmac-sha256   a keyedHash HMAC signing key (32–64 bytes): TPM2_HMAC
//   ec-p256/p384  an ECC signing key (ECDSA with SHA-256 / SHA-384): TPM2_Sign
//   rsa-2048/3072 an RSA signing key (RSASSA-PKCS1-v1_5 or RSA-PSS with SHA-256): TPM2_Sign
//
// Generated keys are made by the TPM with fixedTPM|fixedParent|sensitiveDataOrigin (sealed-data
// material comes from TPM2_GetRandom). Imported asymmetric keys come in through TPM2_Import, so
// they carry neither fixedTPM nor fixedParent (the TPM requires that of an import) and no
// duplication policy, so TPM2_Duplicate is impossible all the same.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_ECC_CURVE, TPMA_OBJECT as A, type wire } from '@sealkeep/tpm';

export const KEY_TYPES = ['aes-256', 'xts-aes-256', 'hmac-sha256', 'ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export type KeyKind = 'secret' | 'hmac' | 'ec' | 'rsa';
export type Operation = 'encrypt' | 'decrypt' | 'wrap' | 'unwrap' | 'sign' | 'verify' | 'hmac' | 'hmac-verify';

export interface KeyTypeSpec {
  kind: KeyKind;
  /** Operations the tenant plane offers on keys of this type. */
  operations: readonly Operation[];
  /** Raw material length accepted, in bytes (secret and hmac kinds). */
  length?: { min: number; max: number };
  /** The curve (ec) or modulus bits (rsa). */
  curve?: 'P-256' | 'P-384';
  bits?: 2048 | 3072;
  /** The hash an ECDSA signature of this type is made with. */
  hash?: 'sha256' | 'sha384';
}

export const KEY_TYPE_SPECS: Record<KeyType, KeyTypeSpec> = {
  'aes-256': { kind: 'secret', operations: ['encrypt', 'decrypt', 'wrap', 'unwrap'], length: { min: 32, max: 32 } },
  'xts-aes-256': { kind: 'secret', operations: [], length: { min: 64, max: 64 } },
  'hmac-sha256': { kind: 'hmac', operations: ['hmac', 'hmac-verify'], length: { min: 32, max: 64 } },
  'ec-p256': { kind: 'ec', operations: ['sign', 'verify'], curve: 'P-256', hash: 'sha256' },
  'ec-p384': { kind: 'ec', operations: ['sign', 'verify'], curve: 'P-384', hash: 'sha384' },
  'rsa-2048': { kind: 'rsa', operations: ['sign', 'verify'], bits: 2048 },
  'rsa-3072': { kind: 'rsa', operations: ['sign', 'verify'], bits: 3072 },
};

/** The material of a key of this type is invalid; the caller reports it without saying how. */
export class MaterialError extends Error {
  override name = 'MaterialError';
}

const EMPTY = Buffer.alloc(0);
const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const CURVE_ID = { 'P-256': TPM_ECC_CURVE.NIST_P256, 'P-384': TPM_ECC_CURVE.NIST_P384 } as const;
const HASH_ALG = { sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384 } as const;

/** Attributes every tenant key object has: used with its authValue, never under dictionary-attack lockout. */
const COMMON = A.userWithAuth | A.noDA;
/** Made in this TPM: bound to it and to the SRK. */
const MADE_HERE = A.fixedTPM | A.fixedParent;

/**
 * The TPMT_PUBLIC of a key of `type`. `origin` decides the attributes: generated keys are made by
 * the TPM (sensitiveDataOrigin); imported ones carry material from outside. For an imported
 * asymmetric key `unique` is its public part.
 */
export function templateFor(type: KeyType, origin: 'generated' | 'imported', unique?: Buffer | { x: Buffer; y: Buffer }): wire.TPMT_PUBLIC {
  const spec = KEY_TYPE_SPECS[type];
  const generated = origin === 'generated';
  if (spec.kind === 'secret') {
    return { type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, objectAttributes: (MADE_HERE | COMMON) >>> 0, authPolicy: EMPTY, parameters: { scheme: NULL_SCHEME }, unique: EMPTY } as wire.TPMT_PUBLIC;
  }
  if (spec.kind === 'hmac') {
    const attrs = MADE_HERE | COMMON | A.sign | (generated ? A.sensitiveDataOrigin : 0);
    const scheme = { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA256 } };
    return { type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, objectAttributes: attrs >>> 0, authPolicy: EMPTY, parameters: { scheme }, unique: EMPTY } as wire.TPMT_PUBLIC;
  }
  const attrs = (generated ? MADE_HERE | A.sensitiveDataOrigin : 0) | COMMON | A.sign;
  if (spec.kind === 'ec') {
    const scheme = { scheme: TPM_ALG.ECDSA, details: { hashAlg: HASH_ALG[spec.hash!] } };
    const parameters = { symmetric: NULL_SYM, scheme, curveID: CURVE_ID[spec.curve!], kdf: NULL_SCHEME };
    return { type: TPM_ALG.ECC, nameAlg: TPM_ALG.SHA256, objectAttributes: attrs >>> 0, authPolicy: EMPTY, parameters, unique: unique ?? { x: EMPTY, y: EMPTY } } as wire.TPMT_PUBLIC;
  }
  // RSA: no scheme in the key, so each signature names RSASSA or RSAPSS.
  const parameters = { symmetric: NULL_SYM, scheme: NULL_SCHEME, keyBits: spec.bits!, exponent: 0 };
  return { type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: attrs >>> 0, authPolicy: EMPTY, parameters, unique: unique ?? EMPTY } as wire.TPMT_PUBLIC;
}

const fromB64url = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

/** A PKCS#8 private key of the given type, checked; its public part and TPM sensitive part. */
export function asymmetricMaterial(type: KeyType, pkcs8: Buffer): { publicUnique: Buffer | { x: Buffer; y: Buffer }; sensitive: Buffer; exponent: number; privateKey: KeyObject } {
  const spec = KEY_TYPE_SPECS[type];
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    throw new MaterialError('not a PKCS#8 private key');
  }
  const jwk = key.export({ format: 'jwk' });
  if (spec.kind === 'ec') {
    if (key.asymmetricKeyType !== 'ec' || jwk.crv !== spec.curve) throw new MaterialError(`not an EC ${spec.curve} key`);
    return { publicUnique: { x: fromB64url(jwk.x), y: fromB64url(jwk.y) }, sensitive: fromB64url(jwk.d), exponent: 0, privateKey: key };
  }
  if (spec.kind === 'rsa') {
    const n = fromB64url(jwk.n);
    if (key.asymmetricKeyType !== 'rsa' || n.length * 8 !== spec.bits) throw new MaterialError(`not an RSA-${spec.bits} key`);
    const e = fromB64url(jwk.e).readUIntBE(0, fromB64url(jwk.e).length);
    // The TPM keeps one prime; its exponent field is 0 for the default 65537.
    return { publicUnique: n, sensitive: fromB64url(jwk.p), exponent: e === 0x10001 ? 0 : e, privateKey: key };
  }
  throw new MaterialError('not an asymmetric key type');
}

/** Check raw material for a secret or HMAC key. */
export function checkRawMaterial(type: KeyType, material: Buffer): void {
  const spec = KEY_TYPE_SPECS[type];
  const { min, max } = spec.length ?? { min: 0, max: -1 };
  if (material.length < min || material.length > max) throw new MaterialError(`a ${type} key is ${min === max ? min : `${min}–${max}`} bytes`);
  if (type === 'xts-aes-256' && material.subarray(0, 32).equals(material.subarray(32))) throw new MaterialError('the two halves of an XTS key must differ');
}

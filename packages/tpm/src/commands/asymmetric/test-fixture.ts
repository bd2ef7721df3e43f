// Test support for the asymmetric, symmetric and duplication commands: a started in-process
// TPM and keys put straight into its object slots (engine/keys.ts createObject), so the
// commands under test can be exercised before or without TPM2_Create.

import { TPM_ALG, TPM_ECC_CURVE, TPM_RH } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import type { TPMT_PUBLIC } from '../../wire/types/index.js';
import { createObject } from '../../engine/keys.js';
import type { TpmObject } from '../../engine/objects.js';
import { Tpm } from '../../engine/tpm.js';
export { startedTpm, rcOf } from '../../testing/in-process.js';

export const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
export const AES128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
export const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const EMPTY: Buffer = Buffer.alloc(0);

export const USER = A.userWithAuth | A.noDA | A.sensitiveDataOrigin;

export function rsaTemplate(attrs: number, scheme: object = NULL_SCHEME, symmetric: object = NULL_SYM, authPolicy: Buffer = EMPTY): TPMT_PUBLIC {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { symmetric, scheme, keyBits: 2048, exponent: 0 },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

export function eccTemplate(attrs: number, scheme: object = NULL_SCHEME, symmetric: object = NULL_SYM, authPolicy: Buffer = EMPTY): TPMT_PUBLIC {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { symmetric, scheme, curveID: TPM_ECC_CURVE.NIST_P256, kdf: NULL_SCHEME },
    unique: { x: EMPTY, y: EMPTY },
  } as TPMT_PUBLIC;
}

export function aesTemplate(attrs: number, keyBits: number, mode: number, authPolicy: Buffer = EMPTY): TPMT_PUBLIC {
  return {
    type: TPM_ALG.SYMCIPHER,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { sym: { algorithm: TPM_ALG.AES, keyBits, mode } },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

export function hmacTemplate(attrs: number, hashAlg: number | null = TPM_ALG.SHA256): TPMT_PUBLIC {
  const scheme = hashAlg === null ? NULL_SCHEME : { scheme: TPM_ALG.HMAC, details: { hashAlg } };
  return {
    type: TPM_ALG.KEYEDHASH,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy: EMPTY,
    parameters: { scheme },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

/** The usual storage parent: restricted RSA-2048 decrypt key with AES-128-CFB, fixed to this TPM. */
export const storageTemplate = (attrs = A.fixedTPM | A.fixedParent): TPMT_PUBLIC =>
  rsaTemplate(A.restricted | A.decrypt | USER | attrs, NULL_SCHEME, AES128_CFB);

/** Create an object (random key, or `data` as its key when sensitiveDataOrigin is clear) and load it. */
export function loadKey(
  tpm: Tpm,
  template: TPMT_PUBLIC,
  opts: { parent?: TpmObject; authValue?: Buffer; data?: Buffer } = {},
): { handle: number; obj: TpmObject } {
  const obj = createObject(tpm, {
    template,
    sensitive: { userAuth: opts.authValue ?? EMPTY, data: opts.data ?? EMPTY },
    parent: opts.parent ?? null,
    hierarchy: TPM_RH.OWNER,
  });
  return { handle: tpm.objects.load(obj), obj };
}


// Object templates a TPM user needs again and again: storage roots (SRK), signing keys,
// restricted attestation keys (AK), sealed data, and the TCG default EK templates. Values are
// TPMT_PUBLIC structures ready for CreatePrimary / Create.

import { TPM_ALG, TPM_ECC_CURVE } from '../wire/constants.js';
import { TPMA_OBJECT as A } from '../wire/attribute-bits.js';
import type { TPMT_PUBLIC } from '../wire/types/index.js';

const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
const AES128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const NULL_KDF = { scheme: TPM_ALG.NULL, details: null };
const EMPTY = Buffer.alloc(0);

const STORAGE = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.restricted | A.decrypt;
const SIGNING = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.sign;
const ATTESTATION = SIGNING | A.restricted;

export type KeyAlg = 'rsa2048' | 'rsa3072' | 'eccP256' | 'eccP384';

function rsa(bits: number, attrs: number, symmetric: object, scheme: object, authPolicy = EMPTY): TPMT_PUBLIC {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { symmetric, scheme, keyBits: bits, exponent: 0 },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

function ecc(curveID: number, attrs: number, symmetric: object, scheme: object, authPolicy = EMPTY): TPMT_PUBLIC {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { symmetric, scheme, curveID, kdf: NULL_KDF },
    unique: { x: EMPTY, y: EMPTY },
  } as TPMT_PUBLIC;
}

function asym(alg: KeyAlg, attrs: number, symmetric: object, scheme: (isRsa: boolean) => object, authPolicy = EMPTY): TPMT_PUBLIC {
  switch (alg) {
    case 'rsa2048':
      return rsa(2048, attrs, symmetric, scheme(true), authPolicy);
    case 'rsa3072':
      return rsa(3072, attrs, symmetric, scheme(true), authPolicy);
    case 'eccP256':
      return ecc(TPM_ECC_CURVE.NIST_P256, attrs, symmetric, scheme(false), authPolicy);
    case 'eccP384':
      return ecc(TPM_ECC_CURVE.NIST_P384, attrs, symmetric, scheme(false), authPolicy);
  }
}

/** A storage root key: restricted decryption parent with AES-128-CFB protection. */
export function storageKeyTemplate(alg: KeyAlg = 'eccP256'): TPMT_PUBLIC {
  return asym(alg, STORAGE, AES128_CFB, () => NULL_SCHEME);
}

/** An unrestricted signing key (RSASSA-SHA256 or ECDSA-SHA256). */
export function signingKeyTemplate(alg: KeyAlg = 'eccP256', authPolicy = EMPTY): TPMT_PUBLIC {
  const scheme = (isRsa: boolean) => ({ scheme: isRsa ? TPM_ALG.RSASSA : TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } });
  return asym(alg, SIGNING, NULL_SYM, scheme, authPolicy);
}

/** A restricted signing key for quotes and certifications (an attestation key). */
export function attestationKeyTemplate(alg: KeyAlg = 'eccP256'): TPMT_PUBLIC {
  const scheme = (isRsa: boolean) => ({ scheme: isRsa ? TPM_ALG.RSASSA : TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } });
  return asym(alg, ATTESTATION, NULL_SYM, scheme);
}

/** A sealed-data object: the data comes in TPMS_SENSITIVE_CREATE; released by authPolicy (e.g. PolicyPCR). */
export function sealedDataTemplate(authPolicy: Buffer, opts: { userWithAuth?: boolean } = {}): TPMT_PUBLIC {
  const attrs = A.fixedTPM | A.fixedParent | (opts.userWithAuth ? A.userWithAuth : 0);
  return {
    type: TPM_ALG.KEYEDHASH,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy,
    parameters: { scheme: NULL_SCHEME },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

/** TPM2_PolicySecret(TPM_RH_ENDORSEMENT) from a zero digest: the TCG EK credential profile's policy. */
export const EK_POLICY = Buffer.from('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa', 'hex');
const EK_ATTRS = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.adminWithPolicy | A.restricted | A.decrypt;

/** TCG EK Credential Profile template L-1 (RSA 2048) and L-2 (ECC NIST P-256). */
export function endorsementKeyTemplate(alg: 'rsa2048' | 'eccP256'): TPMT_PUBLIC {
  if (alg === 'rsa2048') {
    const t = rsa(2048, EK_ATTRS, AES128_CFB, NULL_SCHEME, EK_POLICY);
    return { ...t, unique: Buffer.alloc(256) } as TPMT_PUBLIC;
  }
  const t = ecc(TPM_ECC_CURVE.NIST_P256, EK_ATTRS, AES128_CFB, NULL_SCHEME, EK_POLICY);
  return { ...t, unique: { x: Buffer.alloc(32), y: Buffer.alloc(32) } } as TPMT_PUBLIC;
}

// Test support for the object, hierarchy and context commands: a started in-process TPM, a
// client with password helpers, the templates tpm2-tools uses by default, and rcOf().

import { TPM_ALG, TPM_ECC_CURVE, TPM_RH } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import type { TPMT_PUBLIC } from '../../wire/types/index.js';
import { password } from '../../client/auth.js';
import { TpmClient } from '../../client/client.js';
import { CreatePrimary } from '../hierarchy/index.js';
export { startedTpm, rcOf } from '../../testing/in-process.js';

export const EMPTY: Buffer = Buffer.alloc(0);
export const NULL_SYM = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };
export const AES128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
export const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
export const NO_PCRS: never[] = [];
export const PW = { auth: [password()] };

/** tpm2-tools' default key attributes. */
export const KEY = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth;
export const STORAGE = KEY | A.restricted | A.decrypt | A.noDA;

export function rsa(attrs: number, opts: { scheme?: object; symmetric?: object; authPolicy?: Buffer; unique?: Buffer; nameAlg?: number } = {}): TPMT_PUBLIC {
  return {
    type: TPM_ALG.RSA,
    nameAlg: opts.nameAlg ?? TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy: opts.authPolicy ?? EMPTY,
    parameters: { symmetric: opts.symmetric ?? NULL_SYM, scheme: opts.scheme ?? NULL_SCHEME, keyBits: 2048, exponent: 0 },
    unique: opts.unique ?? EMPTY,
  } as TPMT_PUBLIC;
}

export function ecc(attrs: number, opts: { scheme?: object; symmetric?: object; kdf?: object } = {}): TPMT_PUBLIC {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy: EMPTY,
    parameters: { symmetric: opts.symmetric ?? NULL_SYM, scheme: opts.scheme ?? NULL_SCHEME, curveID: TPM_ECC_CURVE.NIST_P256, kdf: opts.kdf ?? NULL_SCHEME },
    unique: { x: EMPTY, y: EMPTY },
  } as TPMT_PUBLIC;
}

export function keyedHash(attrs: number, scheme: object = NULL_SCHEME): TPMT_PUBLIC {
  return { type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, objectAttributes: attrs >>> 0, authPolicy: EMPTY, parameters: { scheme }, unique: EMPTY } as TPMT_PUBLIC;
}

export function aes(attrs: number, keyBits = 128, mode: number = TPM_ALG.CFB): TPMT_PUBLIC {
  return {
    type: TPM_ALG.SYMCIPHER,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attrs >>> 0,
    authPolicy: EMPTY,
    parameters: { sym: { algorithm: TPM_ALG.AES, keyBits, mode } },
    unique: EMPTY,
  } as TPMT_PUBLIC;
}

export const storageRsa = () => rsa(STORAGE, { symmetric: AES128_CFB });
export const storageEcc = () => ecc(STORAGE, { symmetric: AES128_CFB });
/** A sealed-data object template (tpm2_create -i): caller-supplied data, no sign/decrypt. */
export const sealed = (attrs = A.fixedTPM | A.fixedParent | A.userWithAuth) => keyedHash(attrs);

export async function primary(client: TpmClient, template: TPMT_PUBLIC = storageRsa(), hierarchy: number = TPM_RH.OWNER) {
  return client.call(CreatePrimary, { primaryHandle: hierarchy }, {
    inSensitive: { userAuth: EMPTY, data: EMPTY },
    inPublic: template,
    outsideInfo: EMPTY,
    creationPCR: NO_PCRS,
  }, PW);
}

export const hex = (rc: number) => `0x${rc.toString(16)}`;

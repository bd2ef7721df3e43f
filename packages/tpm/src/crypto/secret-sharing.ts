// Secret sharing (Part 1 §24; Annexes B and C "Secret Sharing" for RSA and ECC): how
// a caller gives the TPM a seed only the holder of a decrypt key can recover, for salted
// sessions ("SECRET"), credentials ("IDENTITY") and duplication ("DUPLICATE"). Both
// directions: createSeed for the sender (TPM2_MakeCredential, clients), recoverSeed for the
// recipient (StartAuthSession, ActivateCredential, Import). Symmetric tpmKeys of salted
// sessions use the reference's XOR (keyed hash) and CFB (symcipher) forms.

import { randomBytes, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { marshalEccPoint, unmarshalEccPoint } from './blob-layout.js';
import { ephemeralEcdh, ecdhSharedPoint, type EccPoint } from './ecc.js';
import { CryptoFailure, failValue } from './errors.js';
import { digestSize } from './hash.js';
import { DIGEST_BUFFER_SIZE } from '../wire/limits.js';
import { kdfe, terminatedLabel } from './kdf.js';
import { xorWithMask } from './parameter-encryption.js';
import { rsaDecrypt, rsaEncrypt } from './rsa.js';
import { AES_BLOCK_SIZE, cfbDecrypt, cfbEncrypt } from './symmetric.js';

/** The uses of secret sharing and their labels (Part 1 §24.1 Table). */
export type SharingLabel = 'SECRET' | 'IDENTITY' | 'DUPLICATE';

/** The public half of a decrypt key, as secret sharing needs it. */
export type SharingRecipient =
  | {
      readonly type: typeof TPM_ALG.RSA;
      readonly publicKey: KeyObject;
      /** OAEP hash: the key's nameAlg, or the hash of its OAEP scheme when it has one. */
      readonly hashAlg: number;
    }
  | {
      readonly type: typeof TPM_ALG.ECC;
      readonly curveId: number;
      readonly publicPoint: EccPoint;
      /** The key's nameAlg: KDFe's hash and the seed size. */
      readonly nameAlg: number;
    };

/** The private half, for recovery. */
export type SharingKey =
  | { readonly type: typeof TPM_ALG.RSA; readonly privateKey: KeyObject; readonly hashAlg: number }
  | {
      readonly type: typeof TPM_ALG.ECC;
      readonly curveId: number;
      readonly privateScalar: Uint8Array;
      readonly publicPoint: EccPoint;
      readonly nameAlg: number;
    };

export interface SharedSeed {
  readonly seed: Buffer;
  /** The TPM2B_ENCRYPTED_SECRET contents. */
  readonly encryptedSecret: Buffer;
}

/** Fixed randomness for known-answer tests; production callers pass nothing. */
export interface SharingRandomness {
  /** RSA: the seed to share and OAEP's seed. */
  readonly seed?: Uint8Array;
  readonly oaepSeed?: Uint8Array;
  /** ECC: the ephemeral private scalar. */
  readonly ephemeralScalar?: Uint8Array;
}

/** ECC: seed = KDFe(nameAlg, Z.x, label, ephemeral.x, recipient.x, digestBits) (Part 1 Annex C "Secret Sharing"). */
function eccSeed(nameAlg: number, z: EccPoint, label: SharingLabel, ephemeral: EccPoint, recipient: EccPoint): Buffer {
  return kdfe(nameAlg, z.x, label, ephemeral.x, recipient.x, digestSize(nameAlg) * 8);
}

/**
 * Make a seed and its encryption for `recipient` (Part 1 §24.2–24.3). RSA: a random seed of
 * the OAEP hash's digest size, OAEP-encrypted with label||0x00 (Annex B "Secret Sharing"). ECC: one-pass
 * ECDH with an ephemeral key, the secret is the marshaled ephemeral point (Annex C "Secret Sharing").
 */
export function createSeed(recipient: SharingRecipient, label: SharingLabel, fixed: SharingRandomness = {}): SharedSeed {
  if (recipient.type === TPM_ALG.RSA) {
    const seed = Buffer.from(fixed.seed ?? randomBytes(digestSize(recipient.hashAlg)));
    const scheme = { scheme: TPM_ALG.OAEP, hashAlg: recipient.hashAlg } as const;
    return { seed, encryptedSecret: rsaEncrypt(recipient.publicKey, scheme, terminatedLabel(label), seed, fixed.oaepSeed) };
  }
  const { ephemeral, shared } = ephemeralEcdh(recipient.curveId, recipient.publicPoint, fixed.ephemeralScalar);
  return {
    seed: eccSeed(recipient.nameAlg, shared, label, ephemeral, recipient.publicPoint),
    encryptedSecret: marshalEccPoint(ephemeral),
  };
}

/**
 * Recover the seed from an encrypted secret with the recipient's private key (Part 1 §24.2–24.3).
 * A malformed secret or failed OAEP decoding is TPM_RC_VALUE; an ephemeral point off the
 * curve is TPM_RC_ECC_POINT.
 */
export function recoverSeed(key: SharingKey, label: SharingLabel, encryptedSecret: Uint8Array): Buffer {
  if (key.type === TPM_ALG.RSA) {
    const seed = rsaDecrypt(key.privateKey, { scheme: TPM_ALG.OAEP, hashAlg: key.hashAlg }, terminatedLabel(label), encryptedSecret);
    if (seed.length > DIGEST_BUFFER_SIZE) failValue('shared seed longer than any digest');
    return seed;
  }
  let ephemeral: EccPoint;
  try {
    ephemeral = unmarshalEccPoint(encryptedSecret);
  } catch {
    return failValue('encrypted secret is not a TPMS_ECC_POINT');
  }
  const z = ecdhSharedPoint(key.curveId, key.privateScalar, ephemeral);
  return eccSeed(key.nameAlg, z, label, ephemeral, key.publicPoint);
}

/** An IV from nonceCaller: its first block, zero-padded when shorter (reference CryptSecretDecrypt). */
function ivFromNonce(nonceCaller: Uint8Array): Buffer {
  const iv = Buffer.alloc(AES_BLOCK_SIZE);
  Buffer.from(nonceCaller).copy(iv, 0, 0, Math.min(nonceCaller.length, AES_BLOCK_SIZE));
  return iv;
}

/** A salt for a symmetric tpmKey of TPM2_StartAuthSession (Part 3 §11.1, reference CryptSecretDecrypt). */
export interface SymmetricSaltKey {
  readonly type: typeof TPM_ALG.KEYEDHASH | typeof TPM_ALG.SYMCIPHER;
  readonly nameAlg: number;
  /** KEYEDHASH: the sensitive data (HMAC key); SYMCIPHER: the AES key. */
  readonly key: Uint8Array;
}

function checkSaltSize(key: SymmetricSaltKey, size: number): void {
  if (size > digestSize(key.nameAlg)) throw new CryptoFailure(TPM_RC.VALUE, 'salt longer than the key nameAlg digest');
}

/**
 * Encrypt a salt to a symmetric tpmKey. KEYEDHASH: XOR with KDFa(nameAlg, key, "XOR",
 * nonceCaller, empty) (Part 1 §11.4.6.4). SYMCIPHER: AES-CFB with IV = nonceCaller's first block.
 */
export function encryptSaltSymmetric(key: SymmetricSaltKey, nonceCaller: Uint8Array, salt: Uint8Array): Buffer {
  checkSaltSize(key, salt.length);
  if (key.type === TPM_ALG.KEYEDHASH) return xorWithMask(key.nameAlg, key.key, nonceCaller, Buffer.alloc(0), salt);
  return cfbEncrypt(key.key, salt, ivFromNonce(nonceCaller));
}

/** Inverse of encryptSaltSymmetric; a secret longer than the nameAlg digest is TPM_RC_VALUE. */
export function recoverSaltSymmetric(key: SymmetricSaltKey, nonceCaller: Uint8Array, secret: Uint8Array): Buffer {
  checkSaltSize(key, secret.length);
  if (key.type === TPM_ALG.KEYEDHASH) return xorWithMask(key.nameAlg, key.key, nonceCaller, Buffer.alloc(0), secret);
  return cfbDecrypt(key.key, secret, ivFromNonce(nonceCaller));
}

// RSA operations of the TPM (Part 1 §11.4.3, Part 3 §14 TPM2_RSA_Encrypt / RSA_Decrypt, §20
// TPM2_Sign / VerifySignature): RSAES-OAEP with a label, RSAES-PKCS1-v1_5, raw RSA for
// TPM_ALG_NULL, and RSASSA-PKCS1-v1_5 / RSAPSS over a digest the caller already computed.
// Keys are node KeyObjects (rsa-keygen.ts makes them); the primitive is OpenSSL's raw RSA and
// the encodings are rsa-padding.ts, so the TPM's exact padding rules are visible here.

import { constants, privateDecrypt, publicEncrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { CryptoFailure, failValue } from './errors.js';
import { digestSize, nodeHashName } from './hash.js';
import {
  oaepCapacity,
  oaepEncode,
  pkcs1EncryptionDecode,
  pkcs1EncryptionEncode,
  pkcs1SignatureEncode,
  pssEncode,
  pssVerify,
} from './rsa-padding.js';

/** An encryption scheme (TPMT_RSA_DECRYPT, Part 2 §11.2.4.2); hashAlg only for OAEP. */
export type RsaDecryptScheme =
  | { readonly scheme: typeof TPM_ALG.OAEP; readonly hashAlg: number }
  | { readonly scheme: typeof TPM_ALG.RSAES }
  | { readonly scheme: typeof TPM_ALG.NULL };

/** A signing scheme (TPMT_SIG_SCHEME for RSA, Part 2 §11.2.1.5). */
export interface RsaSignScheme {
  readonly scheme: typeof TPM_ALG.RSASSA | typeof TPM_ALG.RSAPSS;
  readonly hashAlg: number;
}

/** Modulus size in bits of an RSA KeyObject. */
export function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new Error('not an RSA key');
  return bits;
}

function modulusBytes(key: KeyObject): number {
  return Math.ceil(modulusBits(key) / 8);
}

/**
 * An OAEP label must be empty or end in its terminating 0x00, which is then part of the label
 * (Part 3 §14.2 TPM2_RSA_Encrypt; reference IsLabelProperlyFormatted); otherwise TPM_RC_VALUE.
 */
export function isLabelProperlyFormatted(label: Uint8Array): boolean {
  return label.length === 0 || label[label.length - 1] === 0;
}

/** m^e mod n on a k-byte block; an input not below n is TPM_RC_VALUE. */
function rawPublic(key: KeyObject, block: Buffer): Buffer {
  try {
    return publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, block);
  } catch {
    return failValue('RSA input is not less than the modulus');
  }
}

/** c^d mod n on a k-byte block; an input not below n is TPM_RC_VALUE. */
function rawPrivate(key: KeyObject, block: Buffer): Buffer {
  try {
    return privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block);
  } catch {
    return failValue('RSA input is not less than the modulus');
  }
}

/** Left-pad raw input to the modulus size (Part 1 §11.4.3 "TPM_ALG_NULL": no padding). */
function leftPad(data: Uint8Array, k: number): Buffer {
  if (data.length > k) failValue('RSA input longer than the modulus');
  return Buffer.concat([Buffer.alloc(k - data.length), data]);
}

/**
 * RSA encryption with the given scheme (Part 3 §14.2). `oaepSeed` fixes OAEP's random seed
 * for known-answer tests only. Too-long messages and bad labels are TPM_RC_VALUE.
 */
export function rsaEncrypt(
  publicKey: KeyObject,
  scheme: RsaDecryptScheme,
  label: Uint8Array,
  message: Uint8Array,
  oaepSeed?: Uint8Array,
): Buffer {
  const k = modulusBytes(publicKey);
  switch (scheme.scheme) {
    case TPM_ALG.OAEP:
      if (!isLabelProperlyFormatted(label)) failValue('OAEP label is not NUL-terminated');
      if (message.length > oaepCapacity(scheme.hashAlg, k)) failValue('message too long for OAEP');
      return rawPublic(publicKey, oaepEncode(scheme.hashAlg, k, label, message, oaepSeed));
    case TPM_ALG.RSAES:
      if (message.length > k - 11) failValue('message too long for RSAES-PKCS1-v1_5');
      return rawPublic(publicKey, pkcs1EncryptionEncode(k, message));
    default:
      return rawPublic(publicKey, leftPad(message, k));
  }
}

/**
 * RSA decryption with the given scheme (Part 3 §14.3). A ciphertext whose size is not the
 * modulus size is TPM_RC_SIZE; any padding failure is TPM_RC_VALUE, without saying which check.
 */
export function rsaDecrypt(privateKey: KeyObject, scheme: RsaDecryptScheme, label: Uint8Array, ciphertext: Uint8Array): Buffer {
  const k = modulusBytes(privateKey);
  if (ciphertext.length !== k) throw new CryptoFailure(TPM_RC.SIZE, 'ciphertext is not the size of the modulus');
  const block = Buffer.from(ciphertext);
  switch (scheme.scheme) {
    case TPM_ALG.OAEP:
      if (!isLabelProperlyFormatted(label)) failValue('OAEP label is not NUL-terminated');
      try {
        return privateDecrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHashName(scheme.hashAlg), oaepLabel: Buffer.from(label) },
          block,
        );
      } catch {
        return failValue('OAEP decoding failed');
      }
    case TPM_ALG.RSAES:
      return pkcs1EncryptionDecode(rawPrivate(privateKey, block)) ?? failValue('PKCS#1 v1.5 decoding failed');
    default:
      return rawPrivate(privateKey, block);
  }
}

/**
 * Sign a digest (Part 1 §11.4.3, Part 3 §20.2 TPM2_Sign): RSASSA-PKCS1-v1_5 or RSAPSS with salt
 * length = digest size. A digest of the wrong size is TPM_RC_SIZE; a modulus too small is TPM_RC_KEY.
 */
export function rsaSign(privateKey: KeyObject, scheme: RsaSignScheme, hash: Uint8Array): Buffer {
  if (hash.length !== digestSize(scheme.hashAlg)) throw new CryptoFailure(TPM_RC.SIZE, 'digest size does not match the scheme hash');
  const bits = modulusBits(privateKey);
  const k = Math.ceil(bits / 8);
  if (scheme.scheme === TPM_ALG.RSASSA) {
    const em = pkcs1SignatureEncode(scheme.hashAlg, k, hash);
    if (!em) throw new CryptoFailure(TPM_RC.KEY, 'modulus too small for this hash');
    return rawPrivate(privateKey, em);
  }
  if (k < 2 * digestSize(scheme.hashAlg) + 2) throw new CryptoFailure(TPM_RC.KEY, 'modulus too small for PSS with this hash');
  return rawPrivate(privateKey, leftPad(pssEncode(scheme.hashAlg, bits, hash), k));
}

/** Verify a signature over a digest (Part 3 §20.1 TPM2_VerifySignature); false on any mismatch. */
export function rsaVerify(publicKey: KeyObject, scheme: RsaSignScheme, hash: Uint8Array, signature: Uint8Array): boolean {
  const bits = modulusBits(publicKey);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k || hash.length !== digestSize(scheme.hashAlg)) return false;
  let em: Buffer;
  try {
    em = rawPublic(publicKey, Buffer.from(signature));
  } catch {
    return false;
  }
  if (scheme.scheme === TPM_ALG.RSASSA) {
    const expected = pkcs1SignatureEncode(scheme.hashAlg, k, hash);
    return expected !== null && timingSafeEqual(expected, em);
  }
  const emLen = Math.ceil((bits - 1) / 8);
  if (emLen < k && em[0] !== 0) return false;
  return pssVerify(scheme.hashAlg, bits, hash, em.subarray(k - emLen));
}

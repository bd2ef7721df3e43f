// Protected storage (Part 1 §22–23) and credential protection (Part 1 §24.4): the symmetric
// wrapping that turns a marshaled TPM2B_SENSITIVE into a TPM2B_PRIVATE, the optional inner
// wrapper of duplication, and the same outer form applied to a credential in
// TPM2_MakeCredential / ActivateCredential. Any unwrap failure is TPM_RC_INTEGRITY with no
// hint of which step failed.

import { timingSafeEqual } from 'node:crypto';
import { TPM_ALG } from '../wire/constants.js';
import { joinDigestAndData, sizedDigest, splitDigestAndData } from './blob-layout.js';
import { failIntegrity } from './errors.js';
import { digest, digestSize, hmac } from './hash.js';
import { kdfa } from './kdf.js';
import { cfbDecrypt, cfbEncrypt } from './symmetric.js';

/** What an outer wrapper is keyed by (Part 1 §22.3 and §23.3.2.2). */
export interface OuterProtection {
  /** The protecting key's nameAlg: parent, new parent, or EK for credentials. */
  readonly hashAlg: number;
  /** The parent's seedValue, or the seed from secret sharing for duplication and credentials. */
  readonly seed: Uint8Array;
  /** The protecting key's symmetric algorithm (TPMT_SYM_DEF_OBJECT; AES, mode CFB). */
  readonly symAlg: number;
  readonly symKeyBits: number;
  /** Name of the protected object (for credentials, the Name of the key being certified). */
  readonly name: Uint8Array;
}

/** symKey = KDFa(nameAlg, seed, "STORAGE", name, NULL, keyBits) (Part 1 §22.4). */
export function storageKey(p: OuterProtection): Buffer {
  if (p.symAlg !== TPM_ALG.AES) throw new Error(`storage protection with 0x${p.symAlg.toString(16)} is not implemented`);
  return kdfa(p.hashAlg, p.seed, 'STORAGE', p.name, null, p.symKeyBits);
}

/** HMACkey = KDFa(nameAlg, seed, "INTEGRITY", NULL, NULL, digestBits) (Part 1 §22.5). */
export function integrityKey(p: OuterProtection): Buffer {
  return kdfa(p.hashAlg, p.seed, 'INTEGRITY', null, null, digestSize(p.hashAlg) * 8);
}

/**
 * Outer wrap (Part 1 §22.4–22.5): enc = CFB(symKey, IV = 0, plaintext);
 * outerHMAC = HMAC(HMACkey, enc || name); result TPM2B_DIGEST(outerHMAC) || enc, the contents
 * of a TPM2B_PRIVATE (plaintext = marshaled TPM2B_SENSITIVE) or of a duplication blob.
 */
export function wrapOuter(p: OuterProtection, plaintext: Uint8Array): Buffer {
  const enc = cfbEncrypt(storageKey(p), plaintext);
  return joinDigestAndData(hmac(p.hashAlg, integrityKey(p), enc, p.name), enc);
}

/** Inverse of wrapOuter: checks the HMAC before decrypting; any failure is TPM_RC_INTEGRITY. */
export function unwrapOuter(p: OuterProtection, blob: Uint8Array): Buffer {
  const parts = splitDigestAndData(blob) ?? failIntegrity('malformed protected blob');
  const expected = hmac(p.hashAlg, integrityKey(p), parts.data, p.name);
  if (parts.digest.length !== expected.length || !timingSafeEqual(parts.digest, expected)) failIntegrity('integrity check failed');
  return cfbDecrypt(storageKey(p), parts.data);
}

/** The inner wrapper of duplication (Part 1 §23.3.2.3), keyed by a caller-chosen AES key. */
export interface InnerProtection {
  /** The duplicated object's nameAlg. */
  readonly hashAlg: number;
  /** encryptionKey of TPM2_Duplicate / Import (AES, CFB). */
  readonly symKey: Uint8Array;
  readonly name: Uint8Array;
}

/**
 * Inner wrap (Part 1 §23.3.2.3): innerIntegrity = H_nameAlg(sensitive || name);
 * result CFB(symKey, IV = 0, TPM2B_DIGEST(innerIntegrity) || sensitive).
 */
export function wrapInner(p: InnerProtection, sensitive: Uint8Array): Buffer {
  return cfbEncrypt(p.symKey, joinDigestAndData(digest(p.hashAlg, sensitive, p.name), sensitive));
}

/** Inverse of wrapInner; a digest mismatch or malformed data is TPM_RC_INTEGRITY. */
export function unwrapInner(p: InnerProtection, encrypted: Uint8Array): Buffer {
  const parts = splitDigestAndData(cfbDecrypt(p.symKey, encrypted)) ?? failIntegrity('malformed inner wrapper');
  const expected = digest(p.hashAlg, parts.data, p.name);
  if (parts.digest.length !== expected.length || !timingSafeEqual(parts.digest, expected)) failIntegrity('inner integrity check failed');
  return parts.data;
}

/**
 * Credential protection for TPM2_MakeCredential (Part 1 §24.4, Part 3 §12.6): the credential as
 * a TPM2B_DIGEST, outer-wrapped with the "IDENTITY" seed, keyed to the certified key's Name.
 * Returns the TPM2B_ID_OBJECT contents (integrityHMAC || encIdentity).
 */
export function protectCredential(p: OuterProtection, credential: Uint8Array): Buffer {
  if (credential.length > digestSize(p.hashAlg)) throw new Error('credential longer than the EK nameAlg digest');
  return wrapOuter(p, sizedDigest(credential));
}

/** TPM2_ActivateCredential's recovery of the credential (Part 3 §12.5); failures are TPM_RC_INTEGRITY. */
export function recoverCredential(p: OuterProtection, idObject: Uint8Array): Buffer {
  const plain = unwrapOuter(p, idObject);
  const parts = splitDigestAndData(plain);
  if (!parts || parts.data.length !== 0) return failIntegrity('malformed credential');
  return parts.digest;
}

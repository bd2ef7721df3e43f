// The duplication blob (Part 1 §23.3, reference SensitiveToDuplicate / DuplicateToSensitive):
// a marshaled TPM2B_SENSITIVE, optionally inside an inner wrapper keyed by a caller's AES key
// and integrity-checked with the object's nameAlg, optionally inside an outer wrapper keyed by
// a seed shared with the new parent and checked with the new parent's nameAlg. Shared by
// TPM2_Duplicate, TPM2_Import and TPM2_Rewrap.

import { marshal, unmarshal, WireError } from '../../wire/codec.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { TPM2B_SENSITIVE, type TPMT_PUBLIC, type TPMT_SENSITIVE } from '../../wire/types/index.js';
import { CryptoFailure } from '../../crypto/errors.js';
import { unwrapInner, unwrapOuter, wrapInner, wrapOuter, type OuterProtection } from '../../crypto/protection.js';
import { storageSymmetric } from '../../engine/object-checks.js';
import type { TpmObject } from '../../engine/objects.js';
import { trimTrailingZeros } from '../../engine/sessions.js';

export interface DuplicationWrappers {
  /** Name of the duplicated object (both wrappers bind to it). */
  name: Buffer;
  /** The object's nameAlg: the inner wrapper's integrity hash. */
  nameAlg: number;
  /** The new parent and the seed shared with it; null for no outer wrapper. */
  outer: { parent: TpmObject; seed: Buffer } | null;
  /** The caller's AES key; null for no inner wrapper. */
  innerKey: Buffer | null;
}

/**
 * Reference ObjectIsStorage: a restricted, decrypt-only asymmetric key — what a duplicate may be
 * wrapped to. Its sensitive area need not be loaded (the new parent often lives on another TPM).
 */
export function isStorageKey(pub: TPMT_PUBLIC): boolean {
  const a = pub.objectAttributes;
  return (
    (a & TPMA_OBJECT.restricted) !== 0 &&
    (a & TPMA_OBJECT.decrypt) !== 0 &&
    (a & TPMA_OBJECT.sign) === 0 &&
    (pub.type === TPM_ALG.RSA || pub.type === TPM_ALG.ECC)
  );
}

/** The outer wrapper's keys: the parent's nameAlg and symmetric definition, the shared seed (Part 1 §23.3.2.2). */
export function outerProtection(parent: TpmObject, seed: Buffer, name: Buffer): OuterProtection {
  const sym = storageSymmetric(parent.public);
  return { hashAlg: parent.public.nameAlg, seed, symAlg: sym?.algorithm ?? TPM_ALG.NULL, symKeyBits: sym?.keyBits as number, name };
}

export function sensitiveToDuplicate(sensitive: TPMT_SENSITIVE, w: DuplicationWrappers): Buffer {
  let blob = marshal(TPM2B_SENSITIVE, sensitive);
  if (w.innerKey) blob = wrapInner({ hashAlg: w.nameAlg, symKey: w.innerKey, name: w.name }, blob);
  if (w.outer) blob = wrapOuter(outerProtection(w.outer.parent, w.outer.seed, w.name), blob);
  return blob;
}

/**
 * Unwrap a duplication blob. A broken wrapper is TPM_RC_INTEGRITY; a sensitive area that does
 * not exactly fill what is left is TPM_RC_SIZE or TPM_RC_INSUFFICIENT (as CryptoFailures).
 */
export function duplicateToSensitive(blob: Buffer, w: DuplicationWrappers): TPMT_SENSITIVE {
  let data = blob;
  if (w.outer) data = unwrapOuter(outerProtection(w.outer.parent, w.outer.seed, w.name), data);
  if (w.innerKey) data = unwrapInner({ hashAlg: w.nameAlg, symKey: w.innerKey, name: w.name }, data);
  let sensitive: TPMT_SENSITIVE | null;
  try {
    sensitive = unmarshal(TPM2B_SENSITIVE, data);
  } catch (e) {
    if (e instanceof WireError) throw new CryptoFailure(e.rc as CryptoFailure['rc'], 'duplicated sensitive area does not unmarshal');
    throw e;
  }
  if (!sensitive) throw new CryptoFailure(TPM_RC.SIZE, 'empty sensitive area');
  return { ...sensitive, authValue: trimTrailingZeros(sensitive.authValue) };
}

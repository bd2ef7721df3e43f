// The private area (Part 1 §22–23): a TPM2B_PRIVATE is the object's sensitive area, wrapped
// under its parent's seed with an outer HMAC over the object's Name; unwrapping checks the HMAC,
// then that the sensitive area belongs to the public area.

import { marshal, Reader } from '../wire/codec.js';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { rcParam } from '../wire/rc.js';
import { TPM2B_SENSITIVE, type TPMT_PUBLIC, type TPMT_SENSITIVE } from '../wire/types/index.js';
import { unwrapOuter, wrapOuter, type OuterProtection } from '../crypto/protection.js';
import { fail } from './command.js';
import { blameParam, validateKeys, type Blame } from './keys.js';
import { storageSeedOf } from './key-material.js';
import { objectName } from './names.js';
import { storageSymmetric } from './object-checks.js';
import type { TpmObject } from './objects.js';
import type { Tpm } from './tpm.js';

function trimTrailingZeros(b: Buffer): Buffer {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
}

/** How `parent` protects the object named `name`: its nameAlg, its seed and its symmetric definition. */
export function protectionUnder(parent: TpmObject, name: Buffer): OuterProtection {
  const sym = storageSymmetric(parent.public);
  if (!sym || sym.algorithm === TPM_ALG.NULL) return fail(TPM_RC.TYPE);
  return { hashAlg: parent.public.nameAlg, seed: storageSeedOf(parent), symAlg: sym.algorithm, symKeyBits: sym.keyBits as number, name };
}

/** TPM2B_PRIVATE contents of `obj` under `parent`: outer wrap of its marshaled TPM2B_SENSITIVE. */
export function wrapPrivate(_tpm: Tpm, parent: TpmObject, obj: TpmObject): Buffer {
  if (!obj.sensitive) return fail(TPM_RC.KEY);
  const sensitive: TPMT_SENSITIVE = { ...obj.sensitive, authValue: trimTrailingZeros(obj.sensitive.authValue) };
  return wrapOuter(protectionUnder(parent, obj.name), marshal(TPM2B_SENSITIVE, sensitive));
}

/**
 * Recover the sensitive area of `publicArea` from its TPM2B_PRIVATE under `parent` (Part 1 §22):
 * a bad HMAC is TPM_RC_INTEGRITY, a malformed sensitive area TPM_RC_SENSITIVE, and a sensitive
 * area that does not belong to the public area TPM_RC_BINDING (or a size/type code naming it).
 */
export function unwrapPrivate(
  _tpm: Tpm,
  parent: TpmObject,
  publicArea: TPMT_PUBLIC,
  privateBlob: Buffer,
  blame: Blame = { sensitive: 1, public: 2 },
): TPMT_SENSITIVE {
  const name = objectName(publicArea);
  if (name.length === 0) fail(rcParam(TPM_RC.HASH, blame.public));
  const plain = blameParam(blame.sensitive, () => unwrapOuter(protectionUnder(parent, name), privateBlob));
  let sensitive: TPMT_SENSITIVE | null;
  try {
    const r = new Reader(plain);
    sensitive = TPM2B_SENSITIVE.decode(r);
    if (r.remaining !== 0) sensitive = null;
  } catch {
    sensitive = null;
  }
  if (!sensitive) return fail(TPM_RC.SENSITIVE);
  validateKeys(publicArea, sensitive, blame);
  return sensitive;
}

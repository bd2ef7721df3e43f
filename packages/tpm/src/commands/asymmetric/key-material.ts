// Views of a loaded asymmetric key that the asymmetric and duplication commands need beyond
// engine/keys.ts: its ECC private scalar, and its two halves as secret sharing (Part 1 §24)
// sees them — the recipient of a seed (TPM2_Duplicate's new parent) and its recoverer
// (TPM2_Import's parent).

import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import type { TPMS_ECC_PARMS, TPMS_ECC_POINT, TPMS_RSA_PARMS } from '../../wire/types/index.js';
import type { SharingKey, SharingRecipient } from '../../crypto/secret-sharing.js';
import { curveSize } from '../../crypto/ecc.js';
import { fail } from '../../engine/command.js';
import { privateKeyOf, publicKeyOf } from '../../engine/key-material.js';
import type { TpmObject } from '../../engine/objects.js';

/** d of an ECC key, curve-size wide. */
export function eccPrivateScalarOf(obj: TpmObject): Buffer {
  const { curveID } = obj.public.parameters as TPMS_ECC_PARMS;
  const jwk = privateKeyOf(obj).export({ format: 'jwk' });
  const d = Buffer.from(jwk.d ?? fail(TPM_RC.KEY), 'base64url');
  const size = curveSize(curveID);
  return d.length >= size ? d : Buffer.concat([Buffer.alloc(size - d.length), d]);
}

/** OAEP hash of an RSA key's secret sharing: its OAEP scheme's hash, else its nameAlg (Part 1 §B.10.4). */
function rsaSharingHash(obj: TpmObject): number {
  const { scheme } = obj.public.parameters as TPMS_RSA_PARMS;
  const s = scheme as { scheme: number; details: { hashAlg: number } | null };
  return s.scheme === TPM_ALG.OAEP && s.details ? s.details.hashAlg : obj.public.nameAlg;
}

/** The key as the recipient of a shared seed; TPM_RC_KEY (no index) for a type that cannot receive one. */
export function sharingRecipientOf(obj: TpmObject): SharingRecipient {
  switch (obj.public.type) {
    case TPM_ALG.RSA:
      return { type: TPM_ALG.RSA, publicKey: publicKeyOf(obj), hashAlg: rsaSharingHash(obj) };
    case TPM_ALG.ECC:
      return {
        type: TPM_ALG.ECC,
        curveId: (obj.public.parameters as TPMS_ECC_PARMS).curveID,
        publicPoint: obj.public.unique as TPMS_ECC_POINT,
        nameAlg: obj.public.nameAlg,
      };
    default:
      return fail(TPM_RC.KEY);
  }
}

/** The key as the holder that recovers a shared seed. */
export function sharingKeyOf(obj: TpmObject): SharingKey {
  switch (obj.public.type) {
    case TPM_ALG.RSA:
      return { type: TPM_ALG.RSA, privateKey: privateKeyOf(obj), hashAlg: rsaSharingHash(obj) };
    case TPM_ALG.ECC:
      return {
        type: TPM_ALG.ECC,
        curveId: (obj.public.parameters as TPMS_ECC_PARMS).curveID,
        privateScalar: eccPrivateScalarOf(obj),
        publicPoint: obj.public.unique as TPMS_ECC_POINT,
        nameAlg: obj.public.nameAlg,
      };
    default:
      return fail(TPM_RC.KEY);
  }
}

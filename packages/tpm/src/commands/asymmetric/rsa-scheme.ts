// Choosing the padding scheme of TPM2_RSA_Encrypt / RSA_Decrypt (Part 3 §14.2–14.3, reference
// CryptRsaSelectScheme): the key's own scheme wins when the caller asks for TPM_ALG_NULL; when
// both name a scheme they must agree, hash included; anything else is TPM_RC_SCHEME.

import { TPM_ALG } from '../../wire/constants.js';
import type { TPMS_RSA_PARMS, TPMT_PUBLIC, TPMT_RSA_DECRYPT } from '../../wire/types/index.js';
import type { RsaDecryptScheme } from '../../crypto/rsa.js';

interface SchemeLike {
  scheme: number;
  details: { hashAlg: number } | null;
}

function hashOf(s: SchemeLike): number {
  return s.details?.hashAlg ?? TPM_ALG.NULL;
}

/** The scheme to use, or null when the key's and the caller's are incompatible. */
export function selectRsaScheme(key: TPMT_PUBLIC, inScheme: TPMT_RSA_DECRYPT): RsaDecryptScheme | null {
  const keyScheme = (key.parameters as TPMS_RSA_PARMS).scheme as SchemeLike;
  const input = inScheme as SchemeLike;
  let chosen: SchemeLike;
  if (keyScheme.scheme === TPM_ALG.NULL) chosen = input;
  else if (input.scheme === TPM_ALG.NULL) chosen = keyScheme;
  else if (keyScheme.scheme === input.scheme && hashOf(keyScheme) === hashOf(input)) chosen = input;
  else return null;
  switch (chosen.scheme) {
    case TPM_ALG.OAEP:
      return { scheme: TPM_ALG.OAEP, hashAlg: hashOf(chosen) };
    case TPM_ALG.RSAES:
      return { scheme: TPM_ALG.RSAES };
    case TPM_ALG.NULL:
      return { scheme: TPM_ALG.NULL };
    default:
      // A signing scheme on the key cannot encrypt.
      return null;
  }
}

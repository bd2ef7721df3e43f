// Signatures and the asymmetric values they carry (Part 2 §11.2.1, §11.2.4 - §11.3): signing
// scheme selection, RSA and ECC signatures, RSA decryption schemes, and ECC parameters and points.

import { b2, empty, sized, struct, union, type Infer } from '../codec.js';
import { TPM_ALG } from '../constants.js';
import { MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES, RSA_PRIVATE_SIZE } from '../limits.js';
import { TPMS_SCHEME_HASH, TPMT_HA, TPMU_ASYM_SCHEME } from './algorithms.js';
import { TPMI_ALG_HASH, TPMI_ALG_RSA_DECRYPT, TPMI_ALG_SIG_SCHEME, withPlus } from './base.js';

/** Part 2 §11.2.4.5 TPM2B_PUBLIC_KEY_RSA: modulus or RSA signature/ciphertext block */
export const TPM2B_PUBLIC_KEY_RSA = b2('TPM2B_PUBLIC_KEY_RSA', MAX_RSA_KEY_BYTES);
/** Part 2 §11.2.4.7 TPM2B_PRIVATE_KEY_RSA: one prime factor */
export const TPM2B_PRIVATE_KEY_RSA = b2('TPM2B_PRIVATE_KEY_RSA', RSA_PRIVATE_SIZE);
/** Part 2 §11.2.5.1 TPM2B_ECC_PARAMETER */
export const TPM2B_ECC_PARAMETER = b2('TPM2B_ECC_PARAMETER', MAX_ECC_KEY_BYTES);
/** Part 2 §11.2.5.2 TPMS_ECC_POINT */
export const TPMS_ECC_POINT = struct('TPMS_ECC_POINT', { x: TPM2B_ECC_PARAMETER, y: TPM2B_ECC_PARAMETER });
/** Part 2 §11.2.5.3 TPM2B_ECC_POINT (an empty point is TPM_RC_SIZE) */
export const TPM2B_ECC_POINT = sized('TPM2B_ECC_POINT', TPMS_ECC_POINT);

/** Part 2 §11.2.1.4 TPMU_SIG_SCHEME */
export const TPMU_SIG_SCHEME = union('TPMU_SIG_SCHEME', {
  [TPM_ALG.HMAC]: TPMS_SCHEME_HASH,
  [TPM_ALG.RSASSA]: TPMS_SCHEME_HASH,
  [TPM_ALG.RSAPSS]: TPMS_SCHEME_HASH,
  [TPM_ALG.ECDSA]: TPMS_SCHEME_HASH,
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §11.2.1.5 TPMT_SIG_SCHEME */
export const TPMT_SIG_SCHEME = withPlus(
  struct('TPMT_SIG_SCHEME', { scheme: TPMI_ALG_SIG_SCHEME, details: TPMU_SIG_SCHEME('scheme') }),
  struct('TPMT_SIG_SCHEME+', { scheme: TPMI_ALG_SIG_SCHEME.plus, details: TPMU_SIG_SCHEME('scheme') }),
);

/** Part 2 §11.2.4.4 TPMT_RSA_DECRYPT */
export const TPMT_RSA_DECRYPT = withPlus(
  struct('TPMT_RSA_DECRYPT', { scheme: TPMI_ALG_RSA_DECRYPT, details: TPMU_ASYM_SCHEME('scheme') }),
  struct('TPMT_RSA_DECRYPT+', { scheme: TPMI_ALG_RSA_DECRYPT.plus, details: TPMU_ASYM_SCHEME('scheme') }),
);

/** Part 2 §11.3.1 TPMS_SIGNATURE_RSA (TPMS_SIGNATURE_RSASSA, TPMS_SIGNATURE_RSAPSS) */
export const TPMS_SIGNATURE_RSA = struct('TPMS_SIGNATURE_RSA', { hash: TPMI_ALG_HASH, sig: TPM2B_PUBLIC_KEY_RSA });

/** Part 2 §11.3.2 TPMS_SIGNATURE_ECC (TPMS_SIGNATURE_ECDSA) */
export const TPMS_SIGNATURE_ECC = struct('TPMS_SIGNATURE_ECC', {
  hash: TPMI_ALG_HASH,
  signatureR: TPM2B_ECC_PARAMETER,
  signatureS: TPM2B_ECC_PARAMETER,
});

/** Part 2 §11.3.3 TPMU_SIGNATURE */
export const TPMU_SIGNATURE = union('TPMU_SIGNATURE', {
  [TPM_ALG.RSASSA]: TPMS_SIGNATURE_RSA,
  [TPM_ALG.RSAPSS]: TPMS_SIGNATURE_RSA,
  [TPM_ALG.ECDSA]: TPMS_SIGNATURE_ECC,
  [TPM_ALG.HMAC]: TPMT_HA,
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §11.3.4 TPMT_SIGNATURE */
export const TPMT_SIGNATURE = withPlus(
  struct('TPMT_SIGNATURE', { sigAlg: TPMI_ALG_SIG_SCHEME, signature: TPMU_SIGNATURE('sigAlg') }),
  struct('TPMT_SIGNATURE+', { sigAlg: TPMI_ALG_SIG_SCHEME.plus, signature: TPMU_SIGNATURE('sigAlg') }),
);

export type TPM2B_PUBLIC_KEY_RSA = Infer<typeof TPM2B_PUBLIC_KEY_RSA>;
export type TPM2B_PRIVATE_KEY_RSA = Infer<typeof TPM2B_PRIVATE_KEY_RSA>;
export type TPM2B_ECC_PARAMETER = Infer<typeof TPM2B_ECC_PARAMETER>;
export type TPMS_ECC_POINT = Infer<typeof TPMS_ECC_POINT>;
export type TPM2B_ECC_POINT = Infer<typeof TPM2B_ECC_POINT>;
export type TPMT_SIG_SCHEME = Infer<typeof TPMT_SIG_SCHEME>;
export type TPMT_RSA_DECRYPT = Infer<typeof TPMT_RSA_DECRYPT>;
export type TPMS_SIGNATURE_RSA = Infer<typeof TPMS_SIGNATURE_RSA>;
export type TPMS_SIGNATURE_ECC = Infer<typeof TPMS_SIGNATURE_ECC>;
export type TPMT_SIGNATURE = Infer<typeof TPMT_SIGNATURE>;

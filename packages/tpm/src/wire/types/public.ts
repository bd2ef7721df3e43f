// Object public and sensitive areas (Part 2 §11.1.10 - §11.1.16, §12.2, §12.3): the per-type
// parameters, the unique identifier, TPMT_PUBLIC and its sized forms, and the sensitive area
// both as sent to TPM2_Create (TPMS_SENSITIVE_CREATE) and as held in a private blob
// (TPMT_SENSITIVE). parameters, unique and sensitive are TPMU unions selected by the type field.

import { b2, sized, struct, u32, union, type Codec, type Infer } from '../codec.js';
import { TPM_ALG } from '../constants.js';
import { SENSITIVE_DATA_SIZE, TPMT_PUBLIC_SIZE } from '../limits.js';
import {
  TPMT_ECC_SCHEME,
  TPMT_KDF_SCHEME,
  TPMT_KEYEDHASH_SCHEME,
  TPMT_RSA_SCHEME,
  TPMT_SYM_DEF_OBJECT,
  TPM2B_SYM_KEY,
} from './algorithms.js';
import { TPMA_OBJECT } from './attributes.js';
import { TPM2B_AUTH, TPM2B_DIGEST, TPMI_ALG_HASH, TPMI_ALG_PUBLIC, TPMI_ECC_CURVE, TPMI_RSA_KEY_BITS, withPlus } from './base.js';
import { TPM2B_ECC_PARAMETER, TPM2B_PRIVATE_KEY_RSA, TPM2B_PUBLIC_KEY_RSA, TPMS_ECC_POINT } from './signature.js';

/** Part 2 §11.1.10 TPMS_SYMCIPHER_PARMS (the algorithm may not be TPM_ALG_NULL) */
export const TPMS_SYMCIPHER_PARMS = struct('TPMS_SYMCIPHER_PARMS', { sym: TPMT_SYM_DEF_OBJECT });
/** Part 2 §11.1.14 TPM2B_SENSITIVE_DATA */
export const TPM2B_SENSITIVE_DATA = b2('TPM2B_SENSITIVE_DATA', SENSITIVE_DATA_SIZE);
/** Part 2 §11.1.15 TPMS_SENSITIVE_CREATE */
export const TPMS_SENSITIVE_CREATE = struct('TPMS_SENSITIVE_CREATE', { userAuth: TPM2B_AUTH, data: TPM2B_SENSITIVE_DATA });
/** Part 2 §11.1.16 TPM2B_SENSITIVE_CREATE (an empty one is TPM_RC_SIZE) */
export const TPM2B_SENSITIVE_CREATE = sized('TPM2B_SENSITIVE_CREATE', TPMS_SENSITIVE_CREATE);

/** Part 2 §12.2.3.3 TPMS_KEYEDHASH_PARMS */
export const TPMS_KEYEDHASH_PARMS = struct('TPMS_KEYEDHASH_PARMS', { scheme: TPMT_KEYEDHASH_SCHEME.plus });
/** Part 2 §12.2.3.5 TPMS_RSA_PARMS (exponent 0 means 65537) */
export const TPMS_RSA_PARMS = struct('TPMS_RSA_PARMS', {
  symmetric: TPMT_SYM_DEF_OBJECT.plus,
  scheme: TPMT_RSA_SCHEME.plus,
  keyBits: TPMI_RSA_KEY_BITS,
  exponent: u32,
});
/** Part 2 §12.2.3.6 TPMS_ECC_PARMS */
export const TPMS_ECC_PARMS = struct('TPMS_ECC_PARMS', {
  symmetric: TPMT_SYM_DEF_OBJECT.plus,
  scheme: TPMT_ECC_SCHEME.plus,
  curveID: TPMI_ECC_CURVE,
  kdf: TPMT_KDF_SCHEME.plus,
});

/** Part 2 §12.2.3.7 TPMU_PUBLIC_PARMS */
export const TPMU_PUBLIC_PARMS = union('TPMU_PUBLIC_PARMS', {
  [TPM_ALG.KEYEDHASH]: TPMS_KEYEDHASH_PARMS,
  [TPM_ALG.SYMCIPHER]: TPMS_SYMCIPHER_PARMS,
  [TPM_ALG.RSA]: TPMS_RSA_PARMS,
  [TPM_ALG.ECC]: TPMS_ECC_PARMS,
});

/** Part 2 §12.2.3.2 TPMU_PUBLIC_ID */
export const TPMU_PUBLIC_ID = union('TPMU_PUBLIC_ID', {
  [TPM_ALG.KEYEDHASH]: TPM2B_DIGEST,
  [TPM_ALG.SYMCIPHER]: TPM2B_DIGEST,
  [TPM_ALG.RSA]: TPM2B_PUBLIC_KEY_RSA,
  [TPM_ALG.ECC]: TPMS_ECC_POINT,
});

/** Part 2 §12.2.3.8 TPMT_PUBLIC_PARMS (TPM2_TestParms) */
export const TPMT_PUBLIC_PARMS = struct('TPMT_PUBLIC_PARMS', {
  type: TPMI_ALG_PUBLIC,
  parameters: TPMU_PUBLIC_PARMS('type'),
});

function publicArea(name: string, nameAlg: Codec<number>) {
  return struct(name, {
    type: TPMI_ALG_PUBLIC,
    nameAlg,
    objectAttributes: TPMA_OBJECT,
    authPolicy: TPM2B_DIGEST,
    parameters: TPMU_PUBLIC_PARMS('type'),
    unique: TPMU_PUBLIC_ID('type'),
  });
}

/** Part 2 §12.2.4 TPMT_PUBLIC (`.plus`: nameAlg may be TPM_ALG_NULL, as for TPM2_LoadExternal) */
export const TPMT_PUBLIC = withPlus(publicArea('TPMT_PUBLIC', TPMI_ALG_HASH), publicArea('TPMT_PUBLIC+', TPMI_ALG_HASH.plus));
/** Part 2 §12.2.5 TPM2B_PUBLIC (an empty one is TPM_RC_SIZE) */
export const TPM2B_PUBLIC = withPlus(
  sized('TPM2B_PUBLIC', TPMT_PUBLIC),
  sized('TPM2B_PUBLIC+', TPMT_PUBLIC.plus),
);
/** Part 2 §12.2.6 TPM2B_TEMPLATE: a marshaled TPMT_PUBLIC whose unique may be a TPMS_DERIVE */
export const TPM2B_TEMPLATE = b2('TPM2B_TEMPLATE', TPMT_PUBLIC_SIZE);

/** Part 2 §12.3.2.3 TPMU_SENSITIVE_COMPOSITE */
export const TPMU_SENSITIVE_COMPOSITE = union('TPMU_SENSITIVE_COMPOSITE', {
  [TPM_ALG.RSA]: TPM2B_PRIVATE_KEY_RSA,
  [TPM_ALG.ECC]: TPM2B_ECC_PARAMETER,
  [TPM_ALG.KEYEDHASH]: TPM2B_SENSITIVE_DATA,
  [TPM_ALG.SYMCIPHER]: TPM2B_SYM_KEY,
});

/** Part 2 §12.3.2.4 TPMT_SENSITIVE */
export const TPMT_SENSITIVE = struct('TPMT_SENSITIVE', {
  sensitiveType: TPMI_ALG_PUBLIC,
  authValue: TPM2B_AUTH,
  seedValue: TPM2B_DIGEST,
  sensitive: TPMU_SENSITIVE_COMPOSITE('sensitiveType'),
});
/** Part 2 §12.3.3 TPM2B_SENSITIVE (empty allowed: decodes to null) */
export const TPM2B_SENSITIVE = sized('TPM2B_SENSITIVE', TPMT_SENSITIVE, { allowEmpty: true });

export type TPMS_SYMCIPHER_PARMS = Infer<typeof TPMS_SYMCIPHER_PARMS>;
export type TPM2B_SENSITIVE_DATA = Infer<typeof TPM2B_SENSITIVE_DATA>;
export type TPMS_SENSITIVE_CREATE = Infer<typeof TPMS_SENSITIVE_CREATE>;
export type TPM2B_SENSITIVE_CREATE = Infer<typeof TPM2B_SENSITIVE_CREATE>;
export type TPMS_KEYEDHASH_PARMS = Infer<typeof TPMS_KEYEDHASH_PARMS>;
export type TPMS_RSA_PARMS = Infer<typeof TPMS_RSA_PARMS>;
export type TPMS_ECC_PARMS = Infer<typeof TPMS_ECC_PARMS>;
export type TPMT_PUBLIC_PARMS = Infer<typeof TPMT_PUBLIC_PARMS>;
export type TPMT_PUBLIC = Infer<typeof TPMT_PUBLIC>;
export type TPM2B_PUBLIC = Infer<typeof TPM2B_PUBLIC>;
export type TPM2B_TEMPLATE = Infer<typeof TPM2B_TEMPLATE>;
export type TPMT_SENSITIVE = Infer<typeof TPMT_SENSITIVE>;
export type TPM2B_SENSITIVE = Infer<typeof TPM2B_SENSITIVE>;

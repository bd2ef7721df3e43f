// Algorithm parameter structures (Part 2 §10.3, §10.9.6, §11.1, §11.2): digests tagged with their
// hash (TPMT_HA), symmetric definitions, and the keyed-hash, KDF and asymmetric scheme
// selectors. Each TPMT_ whose selector the spec writes with `+` exposes that form as `.plus`.

import { b2, empty, fixed, list, struct, union, type Codec, type Infer } from '../codec.js';
import { TPM_ALG } from '../constants.js';
import { HASH_COUNT, LABEL_MAX_BUFFER, MAX_SYM_KEY_BYTES, TPMS_DERIVE_SIZE } from '../limits.js';
import {
  TPMI_AES_KEY_BITS,
  TPMI_ALG_ASYM_SCHEME,
  TPMI_ALG_ECC_SCHEME,
  TPMI_ALG_HASH,
  TPMI_ALG_KDF,
  TPMI_ALG_KEYEDHASH_SCHEME,
  TPMI_ALG_RSA_SCHEME,
  TPMI_ALG_SYM,
  TPMI_ALG_SYM_MODE,
  TPMI_ALG_SYM_OBJECT,
  withPlus,
} from './base.js';

/** Digest size in octets of each implemented hash. */
export const HASH_DIGEST_SIZE: Readonly<Record<number, number>> = {
  [TPM_ALG.SHA1]: 20,
  [TPM_ALG.SHA256]: 32,
  [TPM_ALG.SHA384]: 48,
};

/** Part 2 §10.3.1 TPMU_HA: a digest of exactly the size of its hash (TPM_ALG_NULL: empty). */
export const TPMU_HA = union('TPMU_HA', {
  [TPM_ALG.SHA1]: fixed('TPMU_HA.sha1', 20),
  [TPM_ALG.SHA256]: fixed('TPMU_HA.sha256', 32),
  [TPM_ALG.SHA384]: fixed('TPMU_HA.sha384', 48),
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §10.3.2 TPMT_HA */
export const TPMT_HA = withPlus(
  struct('TPMT_HA', { hashAlg: TPMI_ALG_HASH, digest: TPMU_HA('hashAlg') }),
  struct('TPMT_HA+', { hashAlg: TPMI_ALG_HASH.plus, digest: TPMU_HA('hashAlg') }),
);

/** Part 2 §10.9.6 TPML_DIGEST_VALUES: at most one digest per implemented hash. */
export const TPML_DIGEST_VALUES = list('TPML_DIGEST_VALUES', TPMT_HA, HASH_COUNT);

// ---- symmetric (§11.1) -------------------------------------------------------------------------

/** Part 2 §11.1.4 TPMU_SYM_KEY_BITS */
export const TPMU_SYM_KEY_BITS = union('TPMU_SYM_KEY_BITS', {
  [TPM_ALG.AES]: TPMI_AES_KEY_BITS,
  [TPM_ALG.XOR]: TPMI_ALG_HASH,
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §11.1.5 TPMU_SYM_MODE */
export const TPMU_SYM_MODE = union('TPMU_SYM_MODE', {
  [TPM_ALG.AES]: TPMI_ALG_SYM_MODE.plus,
  [TPM_ALG.XOR]: empty,
  [TPM_ALG.NULL]: empty,
});

function symDef(name: string, algorithm: Codec<number>) {
  return struct(name, {
    algorithm,
    keyBits: TPMU_SYM_KEY_BITS('algorithm'),
    mode: TPMU_SYM_MODE('algorithm'),
  });
}

/** Part 2 §11.1.7 TPMT_SYM_DEF */
export const TPMT_SYM_DEF = withPlus(
  symDef('TPMT_SYM_DEF', TPMI_ALG_SYM),
  symDef('TPMT_SYM_DEF+', TPMI_ALG_SYM.plus),
);

/** Part 2 §11.1.8 TPMT_SYM_DEF_OBJECT */
export const TPMT_SYM_DEF_OBJECT = withPlus(
  symDef('TPMT_SYM_DEF_OBJECT', TPMI_ALG_SYM_OBJECT),
  symDef('TPMT_SYM_DEF_OBJECT+', TPMI_ALG_SYM_OBJECT.plus),
);

/** Part 2 §11.1.9 TPM2B_SYM_KEY */
export const TPM2B_SYM_KEY = b2('TPM2B_SYM_KEY', MAX_SYM_KEY_BYTES);
/** Part 2 §11.1.11 TPM2B_LABEL */
export const TPM2B_LABEL = b2('TPM2B_LABEL', LABEL_MAX_BUFFER);
/** Part 2 §11.1.12 TPMS_DERIVE */
export const TPMS_DERIVE = struct('TPMS_DERIVE', { label: TPM2B_LABEL, context: TPM2B_LABEL });
/** Part 2 §11.1.13 TPM2B_DERIVE */
export const TPM2B_DERIVE = b2('TPM2B_DERIVE', TPMS_DERIVE_SIZE);

// ---- schemes (§11.1.17 - §11.2.5) ---------------------------------------------------------------

/** Part 2 §11.1.17 TPMS_SCHEME_HASH (also TPMS_SCHEME_HMAC, TPMS_SIG_SCHEME_*, TPMS_ENC_SCHEME_OAEP, TPMS_KEY_SCHEME_ECDH, TPMS_SCHEME_MGF1, TPMS_SCHEME_KDF1_*) */
export const TPMS_SCHEME_HASH = struct('TPMS_SCHEME_HASH', { hashAlg: TPMI_ALG_HASH });

/** Part 2 §11.1.21 TPMS_SCHEME_XOR */
export const TPMS_SCHEME_XOR = struct('TPMS_SCHEME_XOR', { hashAlg: TPMI_ALG_HASH, kdf: TPMI_ALG_KDF.plus });

/** Part 2 §11.1.22 TPMU_SCHEME_KEYEDHASH */
export const TPMU_SCHEME_KEYEDHASH = union('TPMU_SCHEME_KEYEDHASH', {
  [TPM_ALG.HMAC]: TPMS_SCHEME_HASH,
  [TPM_ALG.XOR]: TPMS_SCHEME_XOR,
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §11.1.23 TPMT_KEYEDHASH_SCHEME */
export const TPMT_KEYEDHASH_SCHEME = withPlus(
  struct('TPMT_KEYEDHASH_SCHEME', { scheme: TPMI_ALG_KEYEDHASH_SCHEME, details: TPMU_SCHEME_KEYEDHASH('scheme') }),
  struct('TPMT_KEYEDHASH_SCHEME+', { scheme: TPMI_ALG_KEYEDHASH_SCHEME.plus, details: TPMU_SCHEME_KEYEDHASH('scheme') }),
);

/** Part 2 §11.2.3.2 TPMU_KDF_SCHEME */
export const TPMU_KDF_SCHEME = union('TPMU_KDF_SCHEME', {
  [TPM_ALG.MGF1]: TPMS_SCHEME_HASH,
  [TPM_ALG.KDF1_SP800_56A]: TPMS_SCHEME_HASH,
  [TPM_ALG.KDF1_SP800_108]: TPMS_SCHEME_HASH,
  [TPM_ALG.NULL]: empty,
});

/** Part 2 §11.2.3.3 TPMT_KDF_SCHEME */
export const TPMT_KDF_SCHEME = withPlus(
  struct('TPMT_KDF_SCHEME', { scheme: TPMI_ALG_KDF, details: TPMU_KDF_SCHEME('scheme') }),
  struct('TPMT_KDF_SCHEME+', { scheme: TPMI_ALG_KDF.plus, details: TPMU_KDF_SCHEME('scheme') }),
);

/** Part 2 §11.2.3.5 TPMU_ASYM_SCHEME (RSAES carries no details) */
export const TPMU_ASYM_SCHEME = union('TPMU_ASYM_SCHEME', {
  [TPM_ALG.ECDH]: TPMS_SCHEME_HASH,
  [TPM_ALG.RSASSA]: TPMS_SCHEME_HASH,
  [TPM_ALG.RSAPSS]: TPMS_SCHEME_HASH,
  [TPM_ALG.ECDSA]: TPMS_SCHEME_HASH,
  [TPM_ALG.RSAES]: empty,
  [TPM_ALG.OAEP]: TPMS_SCHEME_HASH,
  [TPM_ALG.NULL]: empty,
});

function asymScheme(name: string, scheme: Codec<number>) {
  return struct(name, { scheme, details: TPMU_ASYM_SCHEME('scheme') });
}

/** Part 2 §11.2.3.6 TPMT_ASYM_SCHEME */
export const TPMT_ASYM_SCHEME = withPlus(
  asymScheme('TPMT_ASYM_SCHEME', TPMI_ALG_ASYM_SCHEME),
  asymScheme('TPMT_ASYM_SCHEME+', TPMI_ALG_ASYM_SCHEME.plus),
);
/** Part 2 §11.2.4.2 TPMT_RSA_SCHEME */
export const TPMT_RSA_SCHEME = withPlus(
  asymScheme('TPMT_RSA_SCHEME', TPMI_ALG_RSA_SCHEME),
  asymScheme('TPMT_RSA_SCHEME+', TPMI_ALG_RSA_SCHEME.plus),
);
/** Part 2 §11.2.5.6 TPMT_ECC_SCHEME */
export const TPMT_ECC_SCHEME = withPlus(
  asymScheme('TPMT_ECC_SCHEME', TPMI_ALG_ECC_SCHEME),
  asymScheme('TPMT_ECC_SCHEME+', TPMI_ALG_ECC_SCHEME.plus),
);

export type TPMT_HA = Infer<typeof TPMT_HA>;
export type TPML_DIGEST_VALUES = Infer<typeof TPML_DIGEST_VALUES>;
export type TPMT_SYM_DEF = Infer<typeof TPMT_SYM_DEF>;
export type TPMT_SYM_DEF_OBJECT = Infer<typeof TPMT_SYM_DEF_OBJECT>;
export type TPM2B_SYM_KEY = Infer<typeof TPM2B_SYM_KEY>;
export type TPM2B_LABEL = Infer<typeof TPM2B_LABEL>;
export type TPMS_DERIVE = Infer<typeof TPMS_DERIVE>;
export type TPM2B_DERIVE = Infer<typeof TPM2B_DERIVE>;
export type TPMS_SCHEME_HASH = Infer<typeof TPMS_SCHEME_HASH>;
export type TPMS_SCHEME_XOR = Infer<typeof TPMS_SCHEME_XOR>;
export type TPMT_KEYEDHASH_SCHEME = Infer<typeof TPMT_KEYEDHASH_SCHEME>;
export type TPMT_KDF_SCHEME = Infer<typeof TPMT_KDF_SCHEME>;
export type TPMT_ASYM_SCHEME = Infer<typeof TPMT_ASYM_SCHEME>;
export type TPMT_RSA_SCHEME = Infer<typeof TPMT_RSA_SCHEME>;
export type TPMT_ECC_SCHEME = Infer<typeof TPMT_ECC_SCHEME>;

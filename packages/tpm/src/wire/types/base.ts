// Interface types and plain byte buffers (Part 2 §9, §10.4, §10.5): the TPMI_* handle and
// algorithm types with the values this TPM accepts and the response code each rejects with, and
// the TPM2B_* byte strings with their maxima from limits.ts.
//
// A type the spec may write with a `+` (e.g. TPMI_ALG_HASH+, TPMI_DH_OBJECT+) carries its
// null-accepting form as `.plus`: `hashAlg: TPMI_ALG_HASH.plus` admits TPM_ALG_NULL,
// `handle: TPMI_RH_HIERARCHY.plus` admits TPM_RH_NULL.
// Section numbers are those of TPM 2.0 Library Part 2, Structures (rev 1.59).

import { alias, b2, inRange, oneOf, u16, u32, u8, type Codec, type Infer } from '../codec.js';
import {
  HMAC_SESSION_FIRST,
  HMAC_SESSION_LAST,
  NV_INDEX_FIRST,
  NV_INDEX_LAST,
  PCR_FIRST,
  PCR_LAST,
  PERSISTENT_FIRST,
  PERSISTENT_LAST,
  POLICY_SESSION_FIRST,
  POLICY_SESSION_LAST,
  SAVED_OBJECT_HANDLES,
  TPM_ALG,
  TPM_ECC_CURVE,
  TPM_RC,
  TPM_RH,
  TPM_RS_PW,
  TPM_ST,
  TRANSIENT_FIRST,
  TRANSIENT_LAST,
} from '../constants.js';
import { MAX_DIGEST_BUFFER, DIGEST_BUFFER_SIZE, MAX_EVENT_SIZE, MAX_NV_BUFFER_SIZE, MAX_SYM_BLOCK_SIZE, PRIVATE_SIZE, TPMT_HA_SIZE } from '../limits.js';

/** A codec together with its `+` form (the same type also accepting the null value). */
export type WithPlus<T> = Codec<T> & { readonly plus: Codec<T> };

export function withPlus<T>(strict: Codec<T>, plus: Codec<T>): WithPlus<T> {
  return Object.assign(strict, { plus });
}

// ---- handles (§9.3 - §9.24): a value outside the listed ranges is TPM_RC_VALUE -------------------

type Range = readonly [number, number];
const one = (h: number): Range => [h, h];
const TRANSIENT: Range = [TRANSIENT_FIRST, TRANSIENT_LAST];
const PERSISTENT: Range = [PERSISTENT_FIRST, PERSISTENT_LAST];
const NV_INDEX: Range = [NV_INDEX_FIRST, NV_INDEX_LAST];
const PCR: Range = [PCR_FIRST, PCR_LAST];
const HMAC_SESSION: Range = [HMAC_SESSION_FIRST, HMAC_SESSION_LAST];
const POLICY_SESSION: Range = [POLICY_SESSION_FIRST, POLICY_SESSION_LAST];

function handle(name: string, ranges: Range[]): Codec<number> {
  return inRange(name, u32, ranges, TPM_RC.VALUE);
}
function handlePlus(name: string, ranges: Range[], nullValue: number = TPM_RH.NULL): WithPlus<number> {
  return withPlus(handle(name, ranges), handle(`${name}+`, [...ranges, one(nullValue)]));
}

/** Any handle, unchecked (TPM_HANDLE, Part 2 §7.1). */
export const TPM_HANDLE: Codec<number> = { ...u32, name: 'TPM_HANDLE' };
/** Part 2 §9.3 TPMI_DH_OBJECT */
export const TPMI_DH_OBJECT = handlePlus('TPMI_DH_OBJECT', [TRANSIENT, PERSISTENT]);
/** Part 2 §9.4 TPMI_DH_PARENT */
export const TPMI_DH_PARENT = handlePlus('TPMI_DH_PARENT', [
  TRANSIENT, PERSISTENT, one(TPM_RH.OWNER), one(TPM_RH.PLATFORM), one(TPM_RH.ENDORSEMENT),
]);
/** Part 2 §9.5 TPMI_DH_PERSISTENT */
export const TPMI_DH_PERSISTENT = handle('TPMI_DH_PERSISTENT', [PERSISTENT]);
/** Part 2 §9.6 TPMI_DH_ENTITY */
export const TPMI_DH_ENTITY = handlePlus('TPMI_DH_ENTITY', [
  one(TPM_RH.OWNER), one(TPM_RH.ENDORSEMENT), one(TPM_RH.PLATFORM), one(TPM_RH.LOCKOUT),
  TRANSIENT, PERSISTENT, NV_INDEX, PCR, [TPM_RH.AUTH_00, TPM_RH.AUTH_FF],
]);
/** Part 2 §9.7 TPMI_DH_PCR */
export const TPMI_DH_PCR = handlePlus('TPMI_DH_PCR', [PCR]);
/** Part 2 §9.8 TPMI_SH_AUTH_SESSION (`+` admits TPM_RS_PW) */
export const TPMI_SH_AUTH_SESSION = handlePlus('TPMI_SH_AUTH_SESSION', [HMAC_SESSION, POLICY_SESSION], TPM_RS_PW);
/** Part 2 §9.9 TPMI_SH_HMAC */
export const TPMI_SH_HMAC = handle('TPMI_SH_HMAC', [HMAC_SESSION]);
/** Part 2 §9.10 TPMI_SH_POLICY */
export const TPMI_SH_POLICY = handle('TPMI_SH_POLICY', [POLICY_SESSION]);
/** Part 2 §9.11 TPMI_DH_CONTEXT */
export const TPMI_DH_CONTEXT = handle('TPMI_DH_CONTEXT', [HMAC_SESSION, POLICY_SESSION, TRANSIENT]);
/** Part 2 §9.12 TPMI_DH_SAVED */
export const TPMI_DH_SAVED = handle('TPMI_DH_SAVED', [HMAC_SESSION, POLICY_SESSION, ...SAVED_OBJECT_HANDLES.map(one)]);
/** Part 2 §9.13 TPMI_RH_HIERARCHY */
export const TPMI_RH_HIERARCHY = handlePlus('TPMI_RH_HIERARCHY', [
  one(TPM_RH.OWNER), one(TPM_RH.PLATFORM), one(TPM_RH.ENDORSEMENT),
]);
/** Part 2 §9.14 TPMI_RH_ENABLES */
export const TPMI_RH_ENABLES = handlePlus('TPMI_RH_ENABLES', [
  one(TPM_RH.OWNER), one(TPM_RH.PLATFORM), one(TPM_RH.ENDORSEMENT), one(TPM_RH.PLATFORM_NV),
]);
const HIERARCHY_AUTH = [one(TPM_RH.OWNER), one(TPM_RH.PLATFORM), one(TPM_RH.ENDORSEMENT), one(TPM_RH.LOCKOUT)];
/** Part 2 §9.15 TPMI_RH_HIERARCHY_AUTH */
export const TPMI_RH_HIERARCHY_AUTH = handle('TPMI_RH_HIERARCHY_AUTH', HIERARCHY_AUTH);
/** Part 2 §9.16 TPMI_RH_HIERARCHY_POLICY (this TPM has no ACT handles) */
export const TPMI_RH_HIERARCHY_POLICY = handle('TPMI_RH_HIERARCHY_POLICY', HIERARCHY_AUTH);
/** Part 2 §9.17 TPMI_RH_PLATFORM */
export const TPMI_RH_PLATFORM = handle('TPMI_RH_PLATFORM', [one(TPM_RH.PLATFORM)]);
/** Part 2 §9.18 TPMI_RH_OWNER */
export const TPMI_RH_OWNER = handlePlus('TPMI_RH_OWNER', [one(TPM_RH.OWNER)]);
/** Part 2 §9.19 TPMI_RH_ENDORSEMENT */
export const TPMI_RH_ENDORSEMENT = handlePlus('TPMI_RH_ENDORSEMENT', [one(TPM_RH.ENDORSEMENT)]);
/** Part 2 §9.20 TPMI_RH_PROVISION */
export const TPMI_RH_PROVISION = handle('TPMI_RH_PROVISION', [one(TPM_RH.OWNER), one(TPM_RH.PLATFORM)]);
/** Part 2 §9.21 TPMI_RH_CLEAR */
export const TPMI_RH_CLEAR = handle('TPMI_RH_CLEAR', [one(TPM_RH.LOCKOUT), one(TPM_RH.PLATFORM)]);
/** Part 2 §9.22 TPMI_RH_NV_AUTH */
export const TPMI_RH_NV_AUTH = handle('TPMI_RH_NV_AUTH', [one(TPM_RH.OWNER), one(TPM_RH.PLATFORM), NV_INDEX]);
/** Part 2 §9.23 TPMI_RH_LOCKOUT */
export const TPMI_RH_LOCKOUT = handle('TPMI_RH_LOCKOUT', [one(TPM_RH.LOCKOUT)]);
/** Part 2 §9.24 TPMI_RH_NV_INDEX */
export const TPMI_RH_NV_INDEX = handle('TPMI_RH_NV_INDEX', [NV_INDEX]);

// ---- algorithms (§9.27 - §9.37 and the scheme/parms TPMI types of §11, §12) -----------------------

function alg(name: string, allowed: readonly number[], badRc: number): WithPlus<number> {
  const c = oneOf(name, u16, allowed, badRc);
  return withPlus<number>(c, { ...c.withNull(TPM_ALG.NULL), name: `${name}+` });
}

/** Plain TPM_ALG_ID, unchecked (Part 2 §6.3). */
export const TPM_ALG_ID: Codec<number> = { ...u16, name: 'TPM_ALG_ID' };
/** Part 2 §6.4 TPM_ECC_CURVE, unchecked. */
export const TPM_ECC_CURVE_ID: Codec<number> = { ...u16, name: 'TPM_ECC_CURVE' };
/** Part 2 §9.2 TPMI_YES_NO */
export const TPMI_YES_NO = oneOf('TPMI_YES_NO', u8, [0, 1], TPM_RC.VALUE);
/** Part 2 §9.27 TPMI_ALG_HASH (SHA-512 is not implemented: TPM_RC_HASH) */
export const TPMI_ALG_HASH = alg('TPMI_ALG_HASH', [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384], TPM_RC.HASH);
/** Part 2 §9.28 TPMI_ALG_ASYM */
export const TPMI_ALG_ASYM = alg('TPMI_ALG_ASYM', [TPM_ALG.RSA, TPM_ALG.ECC], TPM_RC.ASYMMETRIC);
/** Part 2 §9.29 TPMI_ALG_SYM */
export const TPMI_ALG_SYM = alg('TPMI_ALG_SYM', [TPM_ALG.AES, TPM_ALG.XOR], TPM_RC.SYMMETRIC);
/** Part 2 §9.30 TPMI_ALG_SYM_OBJECT */
export const TPMI_ALG_SYM_OBJECT = alg('TPMI_ALG_SYM_OBJECT', [TPM_ALG.AES], TPM_RC.SYMMETRIC);
const MODES = [TPM_ALG.CTR, TPM_ALG.OFB, TPM_ALG.CBC, TPM_ALG.CFB, TPM_ALG.ECB];
/** Part 2 §9.31 TPMI_ALG_SYM_MODE */
export const TPMI_ALG_SYM_MODE = alg('TPMI_ALG_SYM_MODE', MODES, TPM_RC.MODE);
/** Part 2 §9.32 TPMI_ALG_KDF */
export const TPMI_ALG_KDF = alg(
  'TPMI_ALG_KDF', [TPM_ALG.MGF1, TPM_ALG.KDF1_SP800_56A, TPM_ALG.KDF1_SP800_108], TPM_RC.KDF,
);
/** Part 2 §9.33 TPMI_ALG_SIG_SCHEME */
export const TPMI_ALG_SIG_SCHEME = alg(
  'TPMI_ALG_SIG_SCHEME', [TPM_ALG.HMAC, TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.ECDSA], TPM_RC.SCHEME,
);
/** Part 2 §9.34 TPMI_ECC_KEY_EXCHANGE */
export const TPMI_ECC_KEY_EXCHANGE = alg('TPMI_ECC_KEY_EXCHANGE', [TPM_ALG.ECDH], TPM_RC.SCHEME);
/** Part 2 §9.35 TPMI_ST_COMMAND_TAG */
export const TPMI_ST_COMMAND_TAG = oneOf('TPMI_ST_COMMAND_TAG', u16, [TPM_ST.NO_SESSIONS, TPM_ST.SESSIONS], TPM_RC.BAD_TAG);
/** Part 2 §9.36 TPMI_ALG_MAC_SCHEME */
export const TPMI_ALG_MAC_SCHEME = alg(
  'TPMI_ALG_MAC_SCHEME', [TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384], TPM_RC.SYMMETRIC,
);
/** Part 2 §9.37 TPMI_ALG_CIPHER_MODE */
export const TPMI_ALG_CIPHER_MODE = alg('TPMI_ALG_CIPHER_MODE', MODES, TPM_RC.MODE);
/** Part 2 §10.12.10 TPMI_ST_ATTEST */
export const TPMI_ST_ATTEST = oneOf('TPMI_ST_ATTEST', u16, [
  TPM_ST.ATTEST_CERTIFY, TPM_ST.ATTEST_CREATION, TPM_ST.ATTEST_QUOTE, TPM_ST.ATTEST_COMMAND_AUDIT,
  TPM_ST.ATTEST_SESSION_AUDIT, TPM_ST.ATTEST_TIME, TPM_ST.ATTEST_NV, TPM_ST.ATTEST_NV_DIGEST,
], TPM_RC.SELECTOR);
/** Part 2 §11.1.3 TPMI_AES_KEY_BITS (the spec's unmarshal answers TPM_RC_VALUE) */
export const TPMI_AES_KEY_BITS = oneOf('TPMI_AES_KEY_BITS', u16, [128, 256], TPM_RC.VALUE);
/** Part 2 §11.1.19 TPMI_ALG_KEYEDHASH_SCHEME */
export const TPMI_ALG_KEYEDHASH_SCHEME = alg('TPMI_ALG_KEYEDHASH_SCHEME', [TPM_ALG.HMAC, TPM_ALG.XOR], TPM_RC.VALUE);
/** Part 2 §11.2.3.4 TPMI_ALG_ASYM_SCHEME */
export const TPMI_ALG_ASYM_SCHEME = alg('TPMI_ALG_ASYM_SCHEME', [
  TPM_ALG.ECDH, TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.ECDSA, TPM_ALG.RSAES, TPM_ALG.OAEP,
], TPM_RC.VALUE);
/** Part 2 §11.2.4.1 TPMI_ALG_RSA_SCHEME */
export const TPMI_ALG_RSA_SCHEME = alg(
  'TPMI_ALG_RSA_SCHEME', [TPM_ALG.RSASSA, TPM_ALG.RSAPSS, TPM_ALG.RSAES, TPM_ALG.OAEP], TPM_RC.VALUE,
);
/** Part 2 §11.2.4.3 TPMI_ALG_RSA_DECRYPT */
export const TPMI_ALG_RSA_DECRYPT = alg('TPMI_ALG_RSA_DECRYPT', [TPM_ALG.RSAES, TPM_ALG.OAEP], TPM_RC.VALUE);
/** Part 2 §11.2.4.6 TPMI_RSA_KEY_BITS (the spec's unmarshal answers TPM_RC_VALUE) */
export const TPMI_RSA_KEY_BITS = oneOf('TPMI_RSA_KEY_BITS', u16, [2048, 3072, 4096], TPM_RC.VALUE);
/** Part 2 §11.2.5.4 TPMI_ALG_ECC_SCHEME */
export const TPMI_ALG_ECC_SCHEME = alg('TPMI_ALG_ECC_SCHEME', [TPM_ALG.ECDSA, TPM_ALG.ECDH], TPM_RC.SCHEME);
/** Part 2 §11.2.5.5 TPMI_ECC_CURVE */
export const TPMI_ECC_CURVE = oneOf('TPMI_ECC_CURVE', u16, [TPM_ECC_CURVE.NIST_P256, TPM_ECC_CURVE.NIST_P384], TPM_RC.CURVE);
/** Part 2 §12.2.2 TPMI_ALG_PUBLIC */
export const TPMI_ALG_PUBLIC = oneOf('TPMI_ALG_PUBLIC', u16, [
  TPM_ALG.RSA, TPM_ALG.KEYEDHASH, TPM_ALG.ECC, TPM_ALG.SYMCIPHER,
], TPM_RC.TYPE);

// ---- byte buffers (§10.4, §10.5, §12.3.7) ---------------------------------------------------------

/** Part 2 §10.4.2 TPM2B_DIGEST */
export const TPM2B_DIGEST = b2('TPM2B_DIGEST', DIGEST_BUFFER_SIZE);
/** Part 2 §10.4.3 TPM2B_DATA */
export const TPM2B_DATA = b2('TPM2B_DATA', TPMT_HA_SIZE);
/** Part 2 §10.4.4 TPM2B_NONCE (a TPM2B_DIGEST) */
export const TPM2B_NONCE = alias('TPM2B_NONCE', TPM2B_DIGEST);
/** Part 2 §10.4.5 TPM2B_AUTH (a TPM2B_DIGEST) */
export const TPM2B_AUTH = alias('TPM2B_AUTH', TPM2B_DIGEST);
/** Part 2 §10.4.6 TPM2B_OPERAND (a TPM2B_DIGEST) */
export const TPM2B_OPERAND = alias('TPM2B_OPERAND', TPM2B_DIGEST);
/** Part 2 §10.4.7 TPM2B_EVENT */
export const TPM2B_EVENT = b2('TPM2B_EVENT', MAX_EVENT_SIZE);
/** Part 2 §10.4.8 TPM2B_MAX_BUFFER */
export const TPM2B_MAX_BUFFER = b2('TPM2B_MAX_BUFFER', MAX_DIGEST_BUFFER);
/** Part 2 §10.4.9 TPM2B_MAX_NV_BUFFER */
export const TPM2B_MAX_NV_BUFFER = b2('TPM2B_MAX_NV_BUFFER', MAX_NV_BUFFER_SIZE);
/** Part 2 §10.4.10 TPM2B_TIMEOUT */
export const TPM2B_TIMEOUT = b2('TPM2B_TIMEOUT', 8);
/** Part 2 §10.4.11 TPM2B_IV */
export const TPM2B_IV = b2('TPM2B_IV', MAX_SYM_BLOCK_SIZE);
/** Part 2 §10.5.2 TPM2B_NAME: a handle (4 octets) or nameAlg || digest */
export const TPM2B_NAME = b2('TPM2B_NAME', TPMT_HA_SIZE);
/** Part 2 §12.3.7 TPM2B_PRIVATE: the opaque (integrity-protected, encrypted) private area */
export const TPM2B_PRIVATE = b2('TPM2B_PRIVATE', PRIVATE_SIZE);

export type TPM_HANDLE = Infer<typeof TPM_HANDLE>;
export type TPMI_DH_OBJECT = Infer<typeof TPMI_DH_OBJECT>;
export type TPMI_DH_PARENT = Infer<typeof TPMI_DH_PARENT>;
export type TPMI_DH_PERSISTENT = Infer<typeof TPMI_DH_PERSISTENT>;
export type TPMI_DH_ENTITY = Infer<typeof TPMI_DH_ENTITY>;
export type TPMI_DH_PCR = Infer<typeof TPMI_DH_PCR>;
export type TPMI_SH_AUTH_SESSION = Infer<typeof TPMI_SH_AUTH_SESSION>;
export type TPMI_DH_CONTEXT = Infer<typeof TPMI_DH_CONTEXT>;
export type TPMI_DH_SAVED = Infer<typeof TPMI_DH_SAVED>;
export type TPMI_RH_HIERARCHY = Infer<typeof TPMI_RH_HIERARCHY>;
export type TPMI_RH_NV_INDEX = Infer<typeof TPMI_RH_NV_INDEX>;
export type TPM_ALG_ID = Infer<typeof TPM_ALG_ID>;
export type TPMI_YES_NO = Infer<typeof TPMI_YES_NO>;
export type TPMI_ALG_HASH = Infer<typeof TPMI_ALG_HASH>;
export type TPMI_ST_COMMAND_TAG = Infer<typeof TPMI_ST_COMMAND_TAG>;
export type TPMI_ECC_CURVE = Infer<typeof TPMI_ECC_CURVE>;
export type TPMI_ALG_PUBLIC = Infer<typeof TPMI_ALG_PUBLIC>;
export type TPM2B_DIGEST = Infer<typeof TPM2B_DIGEST>;
export type TPM2B_DATA = Infer<typeof TPM2B_DATA>;
export type TPM2B_NONCE = Infer<typeof TPM2B_NONCE>;
export type TPM2B_AUTH = Infer<typeof TPM2B_AUTH>;
export type TPM2B_EVENT = Infer<typeof TPM2B_EVENT>;
export type TPM2B_MAX_BUFFER = Infer<typeof TPM2B_MAX_BUFFER>;
export type TPM2B_MAX_NV_BUFFER = Infer<typeof TPM2B_MAX_NV_BUFFER>;
export type TPM2B_IV = Infer<typeof TPM2B_IV>;
export type TPM2B_NAME = Infer<typeof TPM2B_NAME>;
export type TPM2B_PRIVATE = Infer<typeof TPM2B_PRIVATE>;

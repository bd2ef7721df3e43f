// TPM 2.0 Library Part 2 constants (§6 "Constants"): algorithm ids, response codes, command
// codes, structure tags, handle types and attribute bits. Names keep the TCG spelling with the
// type prefix as the object name, so `TPM_ALG.SHA256` reads as TPM_ALG_SHA256 in the spec.
// Command codes, capability property tags and attribute bit masks live in their own modules and
// are re-exported here, so `./constants.js` is the one place to import any constant from.

import { IMPLEMENTATION_PCR, MAX_ACTIVE_SESSIONS, MAX_LOADED_OBJECTS } from './limits.js';

export * from './command-codes.js';
export * from './properties.js';
export * from './attribute-bits.js';

/** Part 2 §6.3 TPM_ALG_ID */
export const TPM_ALG = {
  ERROR: 0x0000,
  RSA: 0x0001,
  TDES: 0x0003,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  SM4: 0x0013,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  ECMQV: 0x001d,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CAMELLIA: 0x0026,
  SHA3_256: 0x0027,
  SHA3_384: 0x0028,
  SHA3_512: 0x0029,
  CMAC: 0x003f,
  CTR: 0x0040,
  OFB: 0x0041,
  CBC: 0x0042,
  CFB: 0x0043,
  ECB: 0x0044,
} as const;

/** Part 2 §6.4 TPM_ECC_CURVE */
export const TPM_ECC_CURVE = {
  NONE: 0x0000,
  NIST_P192: 0x0001,
  NIST_P224: 0x0002,
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
  BN_P256: 0x0010,
  BN_P638: 0x0011,
  SM2_P256: 0x0020,
} as const;

/** Part 2 §6.6 TPM_RC — format-zero and format-one base codes. */
export const TPM_RC = {
  SUCCESS: 0x000,
  BAD_TAG: 0x01e,
  // format-zero, version 1.2 bit clear, TPM 2.0 codes (RC_VER1 = 0x100)
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  SEQUENCE: 0x103,
  PRIVATE: 0x10b,
  HMAC: 0x119,
  DISABLED: 0x120,
  EXCLUSIVE: 0x121,
  AUTH_TYPE: 0x124,
  AUTH_MISSING: 0x125,
  POLICY: 0x126,
  PCR: 0x127,
  PCR_CHANGED: 0x128,
  UPGRADE: 0x12d,
  TOO_MANY_CONTEXTS: 0x12e,
  AUTH_UNAVAILABLE: 0x12f,
  REBOOT: 0x130,
  UNBALANCED: 0x131,
  COMMAND_SIZE: 0x142,
  COMMAND_CODE: 0x143,
  AUTHSIZE: 0x144,
  AUTH_CONTEXT: 0x145,
  NV_RANGE: 0x146,
  NV_SIZE: 0x147,
  NV_LOCKED: 0x148,
  NV_AUTHORIZATION: 0x149,
  NV_UNINITIALIZED: 0x14a,
  NV_SPACE: 0x14b,
  NV_DEFINED: 0x14c,
  BAD_CONTEXT: 0x150,
  CPHASH: 0x151,
  PARENT: 0x152,
  NEEDS_TEST: 0x153,
  NO_RESULT: 0x154,
  SENSITIVE: 0x155,
  // format-one (RC_FMT1 = 0x080); the P/H/S bit and index are added by rcParam/rcHandle/rcSession (rc.ts)
  ASYMMETRIC: 0x081,
  ATTRIBUTES: 0x082,
  HASH: 0x083,
  VALUE: 0x084,
  HIERARCHY: 0x085,
  KEY_SIZE: 0x087,
  MGF: 0x088,
  MODE: 0x089,
  TYPE: 0x08a,
  HANDLE: 0x08b,
  KDF: 0x08c,
  RANGE: 0x08d,
  AUTH_FAIL: 0x08e,
  NONCE: 0x08f,
  PP: 0x090,
  SCHEME: 0x092,
  SIZE: 0x095,
  SYMMETRIC: 0x096,
  TAG: 0x097,
  SELECTOR: 0x098,
  INSUFFICIENT: 0x09a,
  SIGNATURE: 0x09b,
  KEY: 0x09c,
  POLICY_FAIL: 0x09d,
  INTEGRITY: 0x09f,
  TICKET: 0x0a0,
  RESERVED_BITS: 0x0a1,
  BAD_AUTH: 0x0a2,
  EXPIRED: 0x0a3,
  POLICY_CC: 0x0a4,
  BINDING: 0x0a5,
  CURVE: 0x0a6,
  ECC_POINT: 0x0a7,
  // warnings (RC_WARN = 0x900)
  CONTEXT_GAP: 0x901,
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  MEMORY: 0x904,
  SESSION_HANDLES: 0x905,
  OBJECT_HANDLES: 0x906,
  LOCALITY: 0x907,
  YIELDED: 0x908,
  CANCELED: 0x909,
  TESTING: 0x90a,
  REFERENCE_H0: 0x910,
  REFERENCE_H1: 0x911,
  REFERENCE_H2: 0x912,
  REFERENCE_H3: 0x913,
  REFERENCE_H4: 0x914,
  REFERENCE_H5: 0x915,
  REFERENCE_H6: 0x916,
  REFERENCE_S0: 0x918,
  REFERENCE_S1: 0x919,
  REFERENCE_S2: 0x91a,
  REFERENCE_S3: 0x91b,
  REFERENCE_S4: 0x91c,
  REFERENCE_S5: 0x91d,
  REFERENCE_S6: 0x91e,
  NV_RATE: 0x920,
  LOCKOUT: 0x921,
  RETRY: 0x922,
  NV_UNAVAILABLE: 0x923,
  NOT_USED: 0x97f,
} as const;

/** Part 2 §6.6 TPM_RC structure: format markers and the fields of a format-one code. */
export const RC_VER1 = 0x100;
export const RC_FMT1 = 0x080;
export const RC_WARN = 0x900;
/** Format-one: the error names a handle (index 1-7 in bits 8-10). */
export const TPM_RC_H = 0x000;
/** Format-one: the error names a parameter (index 1-15 in bits 8-11). */
export const TPM_RC_P = 0x040;
/** Format-one: the error names a session (index 1-7 in bits 8-10). */
export const TPM_RC_S = 0x800;
export const TPM_RC_N_MASK = 0xf00;
export const TPM_RC_N_SHIFT = 8;

/** Part 2 §6.7 TPM_GENERATED: the magic leading every TPMS_ATTEST (0xFF 'TCG'). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** Part 2 §6.8 TPM_EO: PolicyCounterTimer / PolicyNV comparison operators. */
export const TPM_EO = {
  EQ: 0x0000,
  NEQ: 0x0001,
  SIGNED_GT: 0x0002,
  UNSIGNED_GT: 0x0003,
  SIGNED_LT: 0x0004,
  UNSIGNED_LT: 0x0005,
  SIGNED_GE: 0x0006,
  UNSIGNED_GE: 0x0007,
  SIGNED_LE: 0x0008,
  UNSIGNED_LE: 0x0009,
  BITSET: 0x000a,
  BITCLEAR: 0x000b,
} as const;

/** Part 2 §6.9 TPM_ST */
export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
  FU_MANIFEST: 0x8029,
} as const;

/** Part 2 §6.10 TPM_SU */
export const TPM_SU = {
  CLEAR: 0x0000,
  STATE: 0x0001,
} as const;

/** Part 2 §6.11 TPM_SE */
export const TPM_SE = {
  HMAC: 0x00,
  POLICY: 0x01,
  TRIAL: 0x03,
} as const;

/** Part 2 §6.12 TPM_CAP */
export const TPM_CAP = {
  ALGS: 0x00000000,
  HANDLES: 0x00000001,
  COMMANDS: 0x00000002,
  PP_COMMANDS: 0x00000003,
  AUDIT_COMMANDS: 0x00000004,
  PCRS: 0x00000005,
  TPM_PROPERTIES: 0x00000006,
  PCR_PROPERTIES: 0x00000007,
  ECC_CURVES: 0x00000008,
  AUTH_POLICIES: 0x00000009,
  VENDOR_PROPERTY: 0x00000100,
} as const;

/** Part 2 §7.2 TPM_HT: the handle type held in the top octet of a handle. */
export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  LOADED_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  SAVED_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
  AC: 0x90,
} as const;

/** Part 2 §7.4 TPM_RH: permanent handles. */
export const TPM_RH = {
  SRK: 0x40000000,
  OWNER: 0x40000001,
  REVOKE: 0x40000002,
  TRANSPORT: 0x40000003,
  OPERATOR: 0x40000004,
  ADMIN: 0x40000005,
  EK: 0x40000006,
  NULL: 0x40000007,
  UNASSIGNED: 0x40000008,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
  PLATFORM_NV: 0x4000000d,
  AUTH_00: 0x40000010,
  AUTH_FF: 0x4000010f,
} as const;

/** Part 2 §7.4 TPM_RS_PW: the password authorization session. */
export const TPM_RS_PW = 0x40000009;

// Part 2 §7.5 TPM_HC: handle ranges. The reference TPM bounds the transient and session ranges
// by its slot counts (limits.ts); the other ranges span the whole handle type.
export const HR_HANDLE_MASK = 0x00ffffff;
export const HR_RANGE_MASK = 0xff000000;
export const HR_SHIFT = 24;
export const HR_PCR = TPM_HT.PCR * 2 ** HR_SHIFT;
export const HR_HMAC_SESSION = TPM_HT.HMAC_SESSION * 2 ** HR_SHIFT;
export const HR_POLICY_SESSION = TPM_HT.POLICY_SESSION * 2 ** HR_SHIFT;
export const HR_TRANSIENT = TPM_HT.TRANSIENT * 2 ** HR_SHIFT;
export const HR_PERSISTENT = TPM_HT.PERSISTENT * 2 ** HR_SHIFT;
export const HR_NV_INDEX = TPM_HT.NV_INDEX * 2 ** HR_SHIFT;
export const HR_PERMANENT = TPM_HT.PERMANENT * 2 ** HR_SHIFT;
export const PCR_FIRST = HR_PCR;
export const PCR_LAST = PCR_FIRST + IMPLEMENTATION_PCR - 1;
export const HMAC_SESSION_FIRST = HR_HMAC_SESSION;
export const HMAC_SESSION_LAST = HMAC_SESSION_FIRST + MAX_ACTIVE_SESSIONS - 1;
export const POLICY_SESSION_FIRST = HR_POLICY_SESSION;
export const POLICY_SESSION_LAST = POLICY_SESSION_FIRST + MAX_ACTIVE_SESSIONS - 1;
export const TRANSIENT_FIRST = HR_TRANSIENT;
export const TRANSIENT_LAST = TRANSIENT_FIRST + MAX_LOADED_OBJECTS - 1;
export const PERSISTENT_FIRST = HR_PERSISTENT;
export const PERSISTENT_LAST = PERSISTENT_FIRST + 0x00ffffff;
export const PLATFORM_PERSISTENT = PERSISTENT_FIRST + 0x00800000;
export const NV_INDEX_FIRST = HR_NV_INDEX;
export const NV_INDEX_LAST = NV_INDEX_FIRST + 0x00ffffff;
export const PERMANENT_FIRST = TPM_RH.SRK;
export const PERMANENT_LAST = TPM_RH.AUTH_FF;
/** Context handles of a saved object (TPMI_DH_SAVED): ordinary, sequence, stClear. */
export const SAVED_OBJECT_HANDLES = [0x80000000, 0x80000001, 0x80000002] as const;

// Bit masks of the TPMA_* attribute words (Part 2 §8) and the TPM_NT index types (§13.4).
// Each object lists the defined bits by their spec name; `TPMA_X_RESERVED` is the mask of bits
// the spec reserves, which unmarshal rejects with TPM_RC_RESERVED_BITS. Multi-bit fields carry a
// `_SHIFT`. Re-exported by constants.ts.

/** Part 2 §8.2 TPMA_ALGORITHM */
export const TPMA_ALGORITHM = {
  asymmetric: 1 << 0,
  symmetric: 1 << 1,
  hash: 1 << 2,
  object: 1 << 3,
  signing: 1 << 8,
  encrypting: 1 << 9,
  method: 1 << 10,
} as const;
export const TPMA_ALGORITHM_RESERVED = 0xfffff8f0;

/** Part 2 §8.3 TPMA_OBJECT */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  stClear: 1 << 2,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  encryptedDuplication: 1 << 11,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
  x509sign: 1 << 19,
} as const;
/** Bits 0, 3, 8-9, 12-15, 20-31. */
export const TPMA_OBJECT_RESERVED = 0xfff0f309;

/** Part 2 §8.4 TPMA_SESSION */
export const TPMA_SESSION = {
  continueSession: 1 << 0,
  auditExclusive: 1 << 1,
  auditReset: 1 << 2,
  decrypt: 1 << 5,
  encrypt: 1 << 6,
  audit: 1 << 7,
} as const;
/** Bits 3-4. */
export const TPMA_SESSION_RESERVED = 0x18;

/** Part 2 §8.5 TPMA_LOCALITY: localities 0-4 as bits, or an extended locality (32-255) in bits 5-7. */
export const TPMA_LOCALITY = {
  TPM_LOC_ZERO: 1 << 0,
  TPM_LOC_ONE: 1 << 1,
  TPM_LOC_TWO: 1 << 2,
  TPM_LOC_THREE: 1 << 3,
  TPM_LOC_FOUR: 1 << 4,
  Extended: 0x7 << 5,
  Extended_SHIFT: 5,
} as const;

/** Part 2 §8.6 TPMA_PERMANENT */
export const TPMA_PERMANENT = {
  ownerAuthSet: 1 << 0,
  endorsementAuthSet: 1 << 1,
  lockoutAuthSet: 1 << 2,
  disableClear: 1 << 8,
  inLockout: 1 << 9,
  tpmGeneratedEPS: 1 << 10,
} as const;

/** Part 2 §8.7 TPMA_STARTUP_CLEAR */
export const TPMA_STARTUP_CLEAR = {
  phEnable: 1 << 0,
  shEnable: 1 << 1,
  ehEnable: 1 << 2,
  phEnableNV: 1 << 3,
  orderly: 0x80000000,
} as const;

/** Part 2 §8.8 TPMA_MEMORY */
export const TPMA_MEMORY = {
  sharedRAM: 1 << 0,
  sharedNV: 1 << 1,
  objectCopiedToRam: 1 << 2,
} as const;

/** Part 2 §8.9 TPMA_CC */
export const TPMA_CC = {
  commandIndex: 0xffff,
  nv: 1 << 22,
  extensive: 1 << 23,
  flushed: 1 << 24,
  cHandles: 0x7 << 25,
  cHandles_SHIFT: 25,
  rHandle: 1 << 28,
  V: 1 << 29,
} as const;
/** Bits 16-21 and 30-31. */
export const TPMA_CC_RESERVED = 0xc03f0000;

/** Part 2 §8.10 TPMA_MODES */
export const TPMA_MODES = {
  FIPS_140_2: 1 << 0,
} as const;

/** Part 2 §13.4 TPM_NT: the index type held in TPMA_NV bits 4-7. */
export const TPM_NT = {
  ORDINARY: 0x0,
  COUNTER: 0x1,
  BITS: 0x2,
  EXTEND: 0x4,
  PIN_FAIL: 0x8,
  PIN_PASS: 0x9,
} as const;

/** Part 2 §13.4 TPMA_NV (bit 31 written as a positive literal). */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  POLICYWRITE: 1 << 3,
  TPM_NT: 0xf << 4,
  TPM_NT_SHIFT: 4,
  POLICY_DELETE: 1 << 10,
  WRITELOCKED: 1 << 11,
  WRITEALL: 1 << 12,
  WRITEDEFINE: 1 << 13,
  WRITE_STCLEAR: 1 << 14,
  GLOBALLOCK: 1 << 15,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  ORDERLY: 1 << 26,
  CLEAR_STCLEAR: 1 << 27,
  READLOCKED: 1 << 28,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
  READ_STCLEAR: 0x80000000,
} as const;
/** Bits 8-9 and 20-24. */
export const TPMA_NV_RESERVED = 0x01f00300;

/** The TPM_NT field of a TPMA_NV word. */
export function nvIndexType(attributes: number): number {
  return (attributes & TPMA_NV.TPM_NT) >>> TPMA_NV.TPM_NT_SHIFT;
}

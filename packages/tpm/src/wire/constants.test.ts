import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HR_NV_INDEX, HR_PERSISTENT, HR_POLICY_SESSION, HR_TRANSIENT, PCR_LAST, TPM_CAP, TPM_CC, TPM_GENERATED_VALUE, TPM_HT, TPM_PT,
  TPM_RC, TPM_RH, TPM_RS_PW, TPM_ST, TPMA_NV, TPMA_NV_RESERVED, TPMA_OBJECT, TPMA_OBJECT_RESERVED, TPMA_SESSION,
} from './constants.js';

// Part 2 §6.5.2 command codes of every command Sealkeep implements.
const commandCodes: Record<string, number> = {
  Startup: 0x144, Shutdown: 0x145, SelfTest: 0x143, GetCapability: 0x17a, GetRandom: 0x17b, StirRandom: 0x146,
  Hash: 0x17d, PCR_Read: 0x17e, PCR_Extend: 0x182, PCR_Event: 0x13c, PCR_Reset: 0x13d, CreatePrimary: 0x131,
  Create: 0x153, Load: 0x157, LoadExternal: 0x167, ReadPublic: 0x173, FlushContext: 0x165, ContextSave: 0x162,
  ContextLoad: 0x161, EvictControl: 0x120, StartAuthSession: 0x176, PolicyPCR: 0x17f, PolicyPassword: 0x18c,
  PolicyAuthValue: 0x16b, PolicySecret: 0x151, PolicyCommandCode: 0x16c, PolicyGetDigest: 0x189, PolicyRestart: 0x180,
  Unseal: 0x15e, Sign: 0x15d, VerifySignature: 0x177, Quote: 0x158, Certify: 0x148, GetTime: 0x14c,
  MakeCredential: 0x168, ActivateCredential: 0x147, Duplicate: 0x14b, Import: 0x156, RSA_Encrypt: 0x174,
  RSA_Decrypt: 0x159, EncryptDecrypt2: 0x193, EncryptDecrypt: 0x164, HMAC: 0x155, NV_DefineSpace: 0x12a,
  NV_UndefineSpace: 0x122, NV_ReadPublic: 0x169, NV_Write: 0x137, NV_Read: 0x14e, NV_Increment: 0x134,
  NV_Extend: 0x136, HierarchyChangeAuth: 0x129, Clear: 0x126, ClearControl: 0x127, DictionaryAttackLockReset: 0x139,
  DictionaryAttackParameters: 0x13a, ReadClock: 0x181, TestParms: 0x18a, ECDH_KeyGen: 0x163, ECDH_ZGen: 0x154,
  CreateLoaded: 0x191, ObjectChangeAuth: 0x150, PolicyOR: 0x171, PolicyLocality: 0x16f, PolicyNV: 0x149,
  PolicySigned: 0x160, PolicyAuthorize: 0x16a, HashSequenceStart: 0x186, SequenceUpdate: 0x15c,
  SequenceComplete: 0x13e, EventSequenceComplete: 0x185, HMAC_Start: 0x15b, ClockSet: 0x128, SetPrimaryPolicy: 0x12e,
  HierarchyControl: 0x121, GetCommandAuditDigest: 0x133, NV_Certify: 0x184, PCR_Allocate: 0x12b,
  IncrementalSelfTest: 0x142, GetTestResult: 0x17c,
};
test('TPM_CC holds every implemented command with its Part 2 code', () => {
  for (const [name, code] of Object.entries(commandCodes)) {
    assert.equal((TPM_CC as Record<string, number>)[name], code, name);
  }
  assert.equal(new Set(Object.values(TPM_CC)).size, Object.keys(TPM_CC).length, 'codes are unique');
});

test('handles, tags and properties', () => {
  assert.equal(TPM_RH.OWNER, 0x40000001);
  assert.equal(TPM_RH.NULL, 0x40000007);
  assert.equal(TPM_RS_PW, 0x40000009);
  assert.equal(TPM_RH.ENDORSEMENT, 0x4000000b);
  assert.equal(TPM_RH.PLATFORM, 0x4000000c);
  assert.equal(TPM_HT.TRANSIENT, 0x80);
  assert.equal(HR_TRANSIENT, 0x80000000);
  assert.equal(HR_PERSISTENT, 0x81000000);
  assert.equal(HR_NV_INDEX, 0x01000000);
  assert.equal(HR_POLICY_SESSION, 0x03000000);
  assert.equal(PCR_LAST, 23);
  assert.equal(TPM_ST.NO_SESSIONS, 0x8001);
  assert.equal(TPM_ST.ATTEST_QUOTE, 0x8018);
  assert.equal(TPM_CAP.TPM_PROPERTIES, 6);
  assert.equal(TPM_PT.PT_FIXED, 0x100);
  assert.equal(TPM_PT.MANUFACTURER, 0x105);
  assert.equal(TPM_PT.PCR_COUNT, 0x112);
  assert.equal(TPM_PT.MAX_CAP_BUFFER, 0x12e);
  assert.equal(TPM_PT.PT_VAR, 0x200);
  assert.equal(TPM_PT.LOCKOUT_COUNTER, 0x20e);
  assert.equal(TPM_GENERATED_VALUE, 0xff544347);
  assert.equal(TPM_RC.NV_DEFINED, 0x14c);
});

test('attribute bits and reserved masks are disjoint and cover 32 bits', () => {
  const object = Object.values(TPMA_OBJECT).reduce((a, b) => a | b, 0);
  assert.equal((object & TPMA_OBJECT_RESERVED) >>> 0, 0);
  assert.equal((object | TPMA_OBJECT_RESERVED) >>> 0, 0xffffffff);
  const { TPM_NT_SHIFT: _shift, ...nvBits } = TPMA_NV;
  const nv = Object.values(nvBits).reduce((a, b) => a | b, 0);
  assert.equal((nv & TPMA_NV_RESERVED) >>> 0, 0);
  assert.equal((nv | TPMA_NV_RESERVED) >>> 0, 0xffffffff);
  assert.equal(TPMA_SESSION.continueSession | TPMA_SESSION.decrypt | TPMA_SESSION.encrypt, 0x61);
});

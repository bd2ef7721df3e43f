import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshal, unmarshal, type Codec } from '../codec.js';
import {
  HMAC_SESSION_FIRST, TPM_NT, PERSISTENT_FIRST, POLICY_SESSION_FIRST, TPM_ALG, TPM_ECC_CURVE, TPM_GENERATED_VALUE, TPM_RC, TPM_RH, TPM_RS_PW,
  TRANSIENT_FIRST,
} from '../constants.js';
import * as T from './index.js';
import { hex, rejects, roundTrip } from './test-util.js';
import { MAX_LOADED_OBJECTS } from '../limits.js';

const d32 = Buffer.alloc(32, 0x11);
const name = Buffer.concat([hex('000b'), d32]);
const clockInfo = { clock: 123456789n, resetCount: 2, restartCount: 3, safe: 1 };
const attestBase = {
  magic: TPM_GENERATED_VALUE, qualifiedSigner: name, extraData: hex('cafe'), clockInfo, firmwareVersion: 0x0102030405060708n,
};
const sel = [T.pcrSelection(TPM_ALG.SHA256, [0, 7])];

// [label, codec, value]: every structure survives marshal → unmarshal → marshal unchanged.
const cases: Array<[string, Codec<any>, unknown]> = [
  ['TPMT_HA sha1', T.TPMT_HA, { hashAlg: TPM_ALG.SHA1, digest: Buffer.alloc(20, 1) }],
  ['TPMT_HA+ null', T.TPMT_HA.plus, { hashAlg: TPM_ALG.NULL, digest: null }],
  ['TPML_DIGEST_VALUES', T.TPML_DIGEST_VALUES, [
    { hashAlg: TPM_ALG.SHA256, digest: d32 }, { hashAlg: TPM_ALG.SHA384, digest: Buffer.alloc(48, 3) },
  ]],
  ['TPMT_SYM_DEF xor', T.TPMT_SYM_DEF, { algorithm: TPM_ALG.XOR, keyBits: TPM_ALG.SHA256, mode: null }],
  ['TPMT_SYM_DEF+ null', T.TPMT_SYM_DEF.plus, { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }],
  ['TPMT_SYM_DEF_OBJECT aes256 ctr', T.TPMT_SYM_DEF_OBJECT, { algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.CTR }],
  ['TPMS_DERIVE', T.TPMS_DERIVE, { label: Buffer.from('label'), context: Buffer.from('ctx') }],
  ['TPMT_KEYEDHASH_SCHEME xor', T.TPMT_KEYEDHASH_SCHEME, {
    scheme: TPM_ALG.XOR, details: { hashAlg: TPM_ALG.SHA256, kdf: TPM_ALG.KDF1_SP800_108 },
  }],
  ['TPMT_KDF_SCHEME', T.TPMT_KDF_SCHEME, { scheme: TPM_ALG.KDF1_SP800_56A, details: { hashAlg: TPM_ALG.SHA256 } }],
  ['TPMT_ASYM_SCHEME rsaes', T.TPMT_ASYM_SCHEME, { scheme: TPM_ALG.RSAES, details: null }],
  ['TPMT_RSA_SCHEME pss', T.TPMT_RSA_SCHEME, { scheme: TPM_ALG.RSAPSS, details: { hashAlg: TPM_ALG.SHA256 } }],
  ['TPMT_ECC_SCHEME ecdh', T.TPMT_ECC_SCHEME, { scheme: TPM_ALG.ECDH, details: { hashAlg: TPM_ALG.SHA384 } }],
  ['TPMT_SIG_SCHEME', T.TPMT_SIG_SCHEME, { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } }],
  ['TPMT_SIG_SCHEME+ null', T.TPMT_SIG_SCHEME.plus, { scheme: TPM_ALG.NULL, details: null }],
  ['TPMT_RSA_DECRYPT oaep', T.TPMT_RSA_DECRYPT, { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA1 } }],
  ['TPMT_SIGNATURE rsassa', T.TPMT_SIGNATURE, { sigAlg: TPM_ALG.RSASSA, signature: { hash: TPM_ALG.SHA256, sig: Buffer.alloc(256, 4) } }],
  ['TPMT_SIGNATURE ecdsa', T.TPMT_SIGNATURE, {
    sigAlg: TPM_ALG.ECDSA, signature: { hash: TPM_ALG.SHA256, signatureR: d32, signatureS: d32 },
  }],
  ['TPMT_SIGNATURE hmac', T.TPMT_SIGNATURE, { sigAlg: TPM_ALG.HMAC, signature: { hashAlg: TPM_ALG.SHA256, digest: d32 } }],
  ['TPMT_SIGNATURE+ null', T.TPMT_SIGNATURE.plus, { sigAlg: TPM_ALG.NULL, signature: null }],
  ['TPM2B_ECC_POINT', T.TPM2B_ECC_POINT, { x: d32, y: d32 }],
  ['TPMT_TK_CREATION', T.TPMT_TK_CREATION, { tag: 0x8021, hierarchy: TPM_RH.OWNER, digest: d32 }],
  ['TPMT_TK_VERIFIED', T.TPMT_TK_VERIFIED, { tag: 0x8022, hierarchy: TPM_RH.ENDORSEMENT, digest: d32 }],
  ['TPMT_TK_AUTH', T.TPMT_TK_AUTH, { tag: 0x8023, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) }],
  ['TPMT_TK_HASHCHECK', T.TPMT_TK_HASHCHECK, { tag: 0x8024, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) }],
  ['TPMS_ATTEST quote', T.TPMS_ATTEST, { ...attestBase, type: 0x8018, attested: { pcrSelect: sel, pcrDigest: d32 } }],
  ['TPMS_ATTEST certify', T.TPMS_ATTEST, { ...attestBase, type: 0x8017, attested: { name, qualifiedName: name } }],
  ['TPMS_ATTEST creation', T.TPMS_ATTEST, { ...attestBase, type: 0x801a, attested: { objectName: name, creationHash: d32 } }],
  ['TPMS_ATTEST time', T.TPMS_ATTEST, {
    ...attestBase, type: 0x8019, attested: { time: { time: 99n, clockInfo }, firmwareVersion: 7n },
  }],
  ['TPMS_ATTEST nv', T.TPMS_ATTEST, { ...attestBase, type: 0x8014, attested: { indexName: name, offset: 4, nvContents: hex('0102') } }],
  ['TPMS_ATTEST command audit', T.TPMS_ATTEST, {
    ...attestBase, type: 0x8015, attested: { auditCounter: 5n, digestAlg: TPM_ALG.SHA256, auditDigest: d32, commandDigest: d32 },
  }],
  ['TPMS_ATTEST session audit', T.TPMS_ATTEST, { ...attestBase, type: 0x8016, attested: { exclusiveSession: 0, sessionDigest: d32 } }],
  ['TPM2B_CREATION_DATA', T.TPM2B_CREATION_DATA, {
    pcrSelect: sel, pcrDigest: d32, locality: T.TPMA_LOCALITY.TPM_LOC_ZERO, parentNameAlg: TPM_ALG.SHA256,
    parentName: name, parentQualifiedName: name, outsideInfo: Buffer.alloc(0),
  }],
  ['TPMS_CAPABILITY_DATA algs', T.TPMS_CAPABILITY_DATA, {
    capability: T.TPM_CAP.ALGS, data: [{ alg: TPM_ALG.RSA, algProperties: T.TPMA_ALGORITHM.asymmetric | T.TPMA_ALGORITHM.object }],
  }],
  ['TPMS_CAPABILITY_DATA handles', T.TPMS_CAPABILITY_DATA, { capability: T.TPM_CAP.HANDLES, data: [PERSISTENT_FIRST + 1] }],
  ['TPMS_CAPABILITY_DATA commands', T.TPMS_CAPABILITY_DATA, { capability: T.TPM_CAP.COMMANDS, data: [0x0200017e] }],
  ['TPMS_CAPABILITY_DATA audit', T.TPMS_CAPABILITY_DATA, { capability: T.TPM_CAP.AUDIT_COMMANDS, data: [T.TPM_CC.GetRandom] }],
  ['TPMS_CAPABILITY_DATA pcrs', T.TPMS_CAPABILITY_DATA, { capability: T.TPM_CAP.PCRS, data: sel }],
  ['TPMS_CAPABILITY_DATA properties', T.TPMS_CAPABILITY_DATA, {
    capability: T.TPM_CAP.TPM_PROPERTIES, data: [{ property: T.TPM_PT.PCR_COUNT, value: 24 }],
  }],
  ['TPMS_CAPABILITY_DATA pcr properties', T.TPMS_CAPABILITY_DATA, {
    capability: T.TPM_CAP.PCR_PROPERTIES, data: [{ tag: T.TPM_PT_PCR.RESET_L0, pcrSelect: T.pcrBitmap([16]) }],
  }],
  ['TPMS_CAPABILITY_DATA curves', T.TPMS_CAPABILITY_DATA, { capability: T.TPM_CAP.ECC_CURVES, data: [3, 4] }],
  ['TPMS_CAPABILITY_DATA policies', T.TPMS_CAPABILITY_DATA, {
    capability: T.TPM_CAP.AUTH_POLICIES, data: [{ handle: TPM_RH.OWNER, policyHash: { hashAlg: TPM_ALG.SHA256, digest: d32 } }],
  }],
  ['TPML_ALG', T.TPML_ALG, [TPM_ALG.SHA256, TPM_ALG.AES]],
  ['TPM2B_NV_PUBLIC', T.TPM2B_NV_PUBLIC, {
    nvIndex: 0x01c00002, nameAlg: TPM_ALG.SHA256,
    // `|` on bit 31 yields a negative number; the codec decodes attribute words unsigned.
    attributes: (T.TPMA_NV.AUTHWRITE | T.TPMA_NV.AUTHREAD | (TPM_NT.COUNTER << T.TPMA_NV.TPM_NT_SHIFT) | T.TPMA_NV.READ_STCLEAR) >>> 0,
    authPolicy: Buffer.alloc(0), dataSize: 8,
  }],
  ['TPMS_AUTH_COMMAND password', T.TPMS_AUTH_COMMAND, {
    sessionHandle: TPM_RS_PW, nonce: Buffer.alloc(0), sessionAttributes: T.TPMA_SESSION.continueSession, hmac: hex('7061737377'),
  }],
  ['TPMS_AUTH_RESPONSE', T.TPMS_AUTH_RESPONSE, { nonce: d32, sessionAttributes: 0x21, hmac: d32 }],
  ['TPMS_CONTEXT', T.TPMS_CONTEXT, { sequence: 1n << 40n, savedHandle: 0x80000000, hierarchy: TPM_RH.NULL, contextBlob: Buffer.alloc(600, 9) }],
  ['TPMS_CONTEXT_DATA', T.TPMS_CONTEXT_DATA, { integrity: d32, encrypted: Buffer.alloc(5120, 1) }],
  ['TPMS_ID_OBJECT', T.TPMS_ID_OBJECT, { integrityHMAC: d32, encIdentity: d32 }],
  ['TPM2B_ENCRYPTED_SECRET', T.TPM2B_ENCRYPTED_SECRET, Buffer.alloc(512, 1)],
  ['TPM_SU', T.TPM_SU, T.TPM_SU.STATE],
  ['TPM_SE', T.TPM_SE, T.TPM_SE.TRIAL],
  ['TPM_EO', T.TPM_EO, T.TPM_EO.BITCLEAR],
];
for (const [label, codec, value] of cases) {
  test(`round trip ${label}`, () => {
    roundTrip(codec, value);
  });
}

test('known bytes: clock info, password session, ticket, NV public', () => {
  assert.deepEqual(marshal(T.TPMS_CLOCK_INFO, clockInfo), hex('00000000075bcd15 00000002 00000003 01'));
  assert.deepEqual(
    marshal(T.TPMS_AUTH_COMMAND, { sessionHandle: TPM_RS_PW, nonce: Buffer.alloc(0), sessionAttributes: 0, hmac: Buffer.alloc(0) }),
    hex('40000009 0000 00 0000'),
  );
  assert.deepEqual(
    marshal(T.TPMT_TK_HASHCHECK, { tag: 0x8024, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) }),
    hex('8024 40000007 0000'),
  );
  assert.deepEqual(
    marshal(T.TPMS_NV_PUBLIC, { nvIndex: 0x01500000, nameAlg: TPM_ALG.SHA256, attributes: 0x00040004, authPolicy: Buffer.alloc(0), dataSize: 32 }),
    hex('01500000 000b 00040004 0000 0020'),
  );
});

test('handles accept their ranges and reject others with TPM_RC_VALUE', () => {
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
  const ok: Array<[Codec<number>, number]> = [
    [T.TPMI_DH_OBJECT, TRANSIENT_FIRST], [T.TPMI_DH_OBJECT, PERSISTENT_FIRST + 0x10001], [T.TPMI_DH_OBJECT.plus, TPM_RH.NULL],
    [T.TPMI_DH_PCR, 23], [T.TPMI_DH_ENTITY, TPM_RH.LOCKOUT], [T.TPMI_DH_ENTITY, 0x01000001],
    [T.TPMI_SH_AUTH_SESSION, HMAC_SESSION_FIRST], [T.TPMI_SH_AUTH_SESSION.plus, TPM_RS_PW], [T.TPMI_SH_POLICY, POLICY_SESSION_FIRST],
    [T.TPMI_RH_HIERARCHY, TPM_RH.ENDORSEMENT], [T.TPMI_RH_NV_AUTH, 0x01000000], [T.TPMI_DH_SAVED, 0x80000002],
  ];
  for (const [codec, h] of ok) assert.equal(unmarshal(codec, u32(h)), h, `${codec.name} 0x${h.toString(16)}`);
  const bad: Array<[Codec<number>, number]> = [
    [T.TPMI_DH_OBJECT, TPM_RH.NULL], [T.TPMI_DH_OBJECT, TRANSIENT_FIRST + MAX_LOADED_OBJECTS], [T.TPMI_DH_PCR, 24],
    [T.TPMI_SH_AUTH_SESSION, TPM_RS_PW], [T.TPMI_SH_HMAC, POLICY_SESSION_FIRST], [T.TPMI_RH_HIERARCHY, TPM_RH.LOCKOUT],
    [T.TPMI_RH_NV_INDEX, 0x02000000], [T.TPMI_RH_PROVISION, TPM_RH.ENDORSEMENT], [T.TPMI_DH_PERSISTENT, TRANSIENT_FIRST],
  ];
  for (const [codec, h] of bad) rejects(codec, u32(h), TPM_RC.VALUE);
});

// [label, codec, bytes, rc]: malformed input fails with the response code the reference TPM returns.
const malformed: Array<[string, Codec<any>, string, number]> = [
  ['TPMI_YES_NO 2', T.TPMI_YES_NO, '02', TPM_RC.VALUE],
  ['TPMI_ST_COMMAND_TAG 0x00C1 (TPM 1.2)', T.TPMI_ST_COMMAND_TAG, '00c1', TPM_RC.BAD_TAG],
  ['TPMI_ALG_HASH SHA-512', T.TPMI_ALG_HASH, '000d', TPM_RC.HASH],
  ['TPMI_ALG_HASH NULL without +', T.TPMI_ALG_HASH, '0010', TPM_RC.HASH],
  ['TPMI_ALG_SYM_OBJECT XOR', T.TPMI_ALG_SYM_OBJECT, '000a', TPM_RC.SYMMETRIC],
  ['TPMI_ALG_SYM_MODE CMAC', T.TPMI_ALG_SYM_MODE, '003f', TPM_RC.MODE],
  ['TPMI_ALG_KDF KDF2', T.TPMI_ALG_KDF, '0021', TPM_RC.KDF],
  ['TPMI_ECC_CURVE BN P256', T.TPMI_ECC_CURVE, '0010', TPM_RC.CURVE],
  ['TPMI_ALG_PUBLIC AES', T.TPMI_ALG_PUBLIC, '0006', TPM_RC.TYPE],
  ['TPMI_ALG_ASYM', T.TPMI_ALG_ASYM, '0006', TPM_RC.ASYMMETRIC],
  ['TPM_SU 2', T.TPM_SU, '0002', TPM_RC.VALUE],
  ['TPM_SE 2', T.TPM_SE, '02', TPM_RC.VALUE],
  ['TPMT_HA short digest', T.TPMT_HA, '000b 1111', TPM_RC.INSUFFICIENT],
  ['TPMT_SYM_DEF AES-512', T.TPMT_SYM_DEF, '0006 0200 0043', TPM_RC.VALUE],
  ['TPMT_SIG_SCHEME NULL without +', T.TPMT_SIG_SCHEME, '0010', TPM_RC.SCHEME],
  ['TPMT_TK_CREATION with a VERIFIED tag', T.TPMT_TK_CREATION, '8022 40000001 0000', TPM_RC.TAG],
  ['TPMT_TK_AUTH hierarchy LOCKOUT', T.TPMT_TK_AUTH, '8025 4000000a 0000', TPM_RC.VALUE],
  ['TPMS_CAPABILITY_DATA vendor property (no member)', T.TPMS_CAPABILITY_DATA, '00000100 00000000', TPM_RC.SELECTOR],
  ['TPMS_CAPABILITY_DATA unknown capability', T.TPMS_CAPABILITY_DATA, '0000000a 00000000', TPM_RC.VALUE],
  ['TPML_CC count over MAX_CAP_CC', T.TPML_CC, '000000ff', TPM_RC.SIZE],
  ['TPML_DIGEST_VALUES count 4', T.TPML_DIGEST_VALUES, '00000004', TPM_RC.SIZE],
  ['TPMS_ATTEST bad magic', T.TPMS_ATTEST, 'ff544348 8018', TPM_RC.VALUE],
  ['TPMS_ATTEST bad type', T.TPMS_ATTEST, 'ff544347 8021', TPM_RC.SELECTOR],
  ['TPMA_SESSION reserved bit 3', T.TPMA_SESSION, '08', TPM_RC.RESERVED_BITS],
  ['TPMA_NV reserved bit 8', T.TPMA_NV, '00000100', TPM_RC.RESERVED_BITS],
  ['TPMA_CC reserved bit 31', T.TPMA_CC, '80000000', TPM_RC.RESERVED_BITS],
  ['TPMS_NV_PUBLIC dataSize over MAX_NV_INDEX_SIZE', T.TPMS_NV_PUBLIC, '01500000 000b 00040004 0000 0801', TPM_RC.SIZE],
  ['TPM2B_NV_PUBLIC empty', T.TPM2B_NV_PUBLIC, '0000', TPM_RC.SIZE],
  ['TPM2B_ECC_POINT empty', T.TPM2B_ECC_POINT, '0000', TPM_RC.SIZE],
  ['TPM2B_ECC_PARAMETER over 48', T.TPM2B_ECC_PARAMETER, '0031', TPM_RC.SIZE],
  ['TPM2B_DIGEST over 64', T.TPM2B_DIGEST, '0041', TPM_RC.SIZE],
  ['TPM2B_NAME truncated', T.TPM2B_NAME, '0022 000b 1111', TPM_RC.INSUFFICIENT],
  ['TPMS_AUTH_COMMAND unknown session handle', T.TPMS_AUTH_COMMAND, '40000001 0000 00 0000', TPM_RC.VALUE],
  ['TPMS_AUTH_COMMAND reserved attribute', T.TPMS_AUTH_COMMAND, '40000009 0000 10 0000', TPM_RC.RESERVED_BITS],
  ['TPMS_CONTEXT bad saved handle', T.TPMS_CONTEXT, '0000000000000001 80000003', TPM_RC.VALUE],
  ['TPM2B_CONTEXT_DATA oversize', T.TPM2B_CONTEXT_DATA, 'ffff', TPM_RC.SIZE],
  ['trailing bytes', T.TPMI_YES_NO, '0100', TPM_RC.SIZE],
];
for (const [label, codec, bytes, rc] of malformed) {
  test(`rejects ${label}`, () => rejects(codec, hex(bytes), rc));
}

test('attribute and constant codecs carry their masks and values', () => {
  assert.equal(T.TPMA_OBJECT.fixedTPM, 0x2);
  assert.equal(T.TPMA_NV.TPM_NT, 0xf0);
  assert.equal(T.TPM_CC.PCR_Extend, 0x182);
  assert.equal(T.TPM_SU.CLEAR, 0);
  assert.equal(TPM_ECC_CURVE.NIST_P256, 3);
  assert.deepEqual(marshal(T.TPM_CC, T.TPM_CC.Startup), hex('00000144'));
});

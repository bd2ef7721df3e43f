import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshal, unmarshal } from '../codec.js';
import { TPM_ALG, TPM_ECC_CURVE, TPM_RC } from '../constants.js';
import { TPMA_OBJECT } from './attributes.js';
import { TPM2B_PUBLIC, TPM2B_SENSITIVE, TPM2B_SENSITIVE_CREATE, TPMT_PUBLIC, TPMT_PUBLIC_PARMS, type TPMT_PUBLIC as Public } from './public.js';
import { hex, rejects, roundTrip } from './test-util.js';

// TCG EK Credential Profile for TPM Family 2.0, default EK template L-1 (RSA 2048, storage):
// fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt = 0x000300B2,
// authPolicy = PolicySecret(TPM_RH_ENDORSEMENT), AES-128-CFB, no scheme, exponent 0, and a
// 256-octet zero unique.
const EK_POLICY = hex('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
const ekTemplate: Public = {
  type: TPM_ALG.RSA,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes:
    TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin |
    TPMA_OBJECT.adminWithPolicy | TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt,
  authPolicy: EK_POLICY,
  parameters: {
    symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
    scheme: { scheme: TPM_ALG.NULL, details: null },
    keyBits: 2048,
    exponent: 0,
  },
  unique: Buffer.alloc(256),
};
const EK_BYTES = Buffer.concat([
  hex('013a 0001 000b 000300b2 0020'),
  EK_POLICY,
  hex('0006 0080 0043 0010 0800 00000000 0100'),
  Buffer.alloc(256),
]);

test('EK template L-1 marshals to the known TPM2B_PUBLIC bytes', () => {
  assert.equal(ekTemplate.objectAttributes, 0x000300b2);
  assert.deepEqual(marshal(TPM2B_PUBLIC, ekTemplate), EK_BYTES);
  assert.deepEqual(unmarshal(TPM2B_PUBLIC, EK_BYTES), ekTemplate);
});

const eccSigner: Public = {
  type: TPM_ALG.ECC,
  nameAlg: TPM_ALG.SHA384,
  objectAttributes: TPMA_OBJECT.sign | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.sensitiveDataOrigin,
  authPolicy: Buffer.alloc(0),
  parameters: {
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
    scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA384 } },
    curveID: TPM_ECC_CURVE.NIST_P384,
    kdf: { scheme: TPM_ALG.NULL, details: null },
  },
  unique: { x: Buffer.alloc(48, 1), y: Buffer.alloc(48, 2) },
};
const sealed: Public = {
  type: TPM_ALG.KEYEDHASH,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent,
  authPolicy: Buffer.alloc(32, 7),
  parameters: { scheme: { scheme: TPM_ALG.NULL, details: null } },
  unique: Buffer.alloc(32, 9),
};
const hmacKey: Public = {
  ...sealed,
  parameters: { scheme: { scheme: TPM_ALG.HMAC, details: { hashAlg: TPM_ALG.SHA1 } } },
};
const aesKey: Public = {
  type: TPM_ALG.SYMCIPHER,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: TPMA_OBJECT.decrypt | TPMA_OBJECT.sign,
  authPolicy: Buffer.alloc(0),
  parameters: { sym: { algorithm: TPM_ALG.AES, keyBits: 256, mode: TPM_ALG.NULL } },
  unique: Buffer.alloc(0),
};
const rsa4096: Public = {
  ...ekTemplate,
  parameters: {
    symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
    scheme: { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } },
    keyBits: 4096,
    exponent: 65537,
  },
  unique: Buffer.alloc(512, 0xaa),
};

for (const [name, v] of Object.entries({ eccSigner, sealed, hmacKey, aesKey, rsa4096 })) {
  test(`TPMT_PUBLIC round trip: ${name}`, () => {
    roundTrip(TPMT_PUBLIC, v);
    roundTrip(TPM2B_PUBLIC, v);
  });
}

test('TPMT_PUBLIC_PARMS round trip', () => {
  roundTrip(TPMT_PUBLIC_PARMS, { type: eccSigner.type, parameters: eccSigner.parameters });
});

test('TPMT_PUBLIC.plus admits a TPM_ALG_NULL nameAlg, TPMT_PUBLIC does not', () => {
  const v = { ...aesKey, nameAlg: TPM_ALG.NULL };
  const bytes = marshal(TPMT_PUBLIC.plus, v);
  assert.deepEqual(unmarshal(TPMT_PUBLIC.plus, bytes), v);
  rejects(TPMT_PUBLIC, bytes, TPM_RC.HASH);
});

test('sensitive areas round trip; empty TPM2B_SENSITIVE is null', () => {
  roundTrip(TPM2B_SENSITIVE_CREATE, { userAuth: hex('0102'), data: Buffer.from('sealed secret') });
  roundTrip(TPM2B_SENSITIVE, {
    sensitiveType: TPM_ALG.ECC, authValue: Buffer.alloc(0), seedValue: Buffer.alloc(32), sensitive: Buffer.alloc(32, 5),
  });
  assert.equal(unmarshal(TPM2B_SENSITIVE, hex('0000')), null);
  rejects(TPM2B_SENSITIVE_CREATE, hex('0000'), TPM_RC.SIZE);
});

// Offsets into EK_BYTES: size 0-1, type 2-3, nameAlg 4-5, attributes 6-9, policy 10-43,
// symmetric 44-49, scheme 50-51, keyBits 52-53, exponent 54-57, unique 58-.
function patched(at: number, bytes: string): Buffer {
  const b = Buffer.from(EK_BYTES);
  hex(bytes).copy(b, at);
  return b;
}
const malformed: Array<[string, Buffer, number]> = [
  ['truncated', EK_BYTES.subarray(0, 100), TPM_RC.INSUFFICIENT],
  ['empty TPM2B_PUBLIC', hex('0000'), TPM_RC.SIZE],
  ['size larger than contents', Buffer.concat([patched(0, '013b'), hex('00')]), TPM_RC.SIZE],
  ['unknown type', patched(2, '0099'), TPM_RC.TYPE],
  ['SHA-512 nameAlg', patched(4, '000d'), TPM_RC.HASH],
  ['reserved attribute bit 0', patched(6, '000300b3'), TPM_RC.RESERVED_BITS],
  ['authPolicy over the 64-octet digest buffer', patched(10, '0041'), TPM_RC.SIZE],
  ['symmetric not AES', patched(44, '000a'), TPM_RC.SYMMETRIC],
  ['AES-192', patched(46, '00c0'), TPM_RC.VALUE],
  ['mode not a mode', patched(48, '0006'), TPM_RC.MODE],
  ['scheme not an RSA scheme', patched(50, '0018'), TPM_RC.VALUE],
  ['RSA-1024', patched(52, '0400'), TPM_RC.VALUE],
  ['unique over 512 octets', patched(58, '0201'), TPM_RC.SIZE],
];
for (const [what, bytes, rc] of malformed) {
  test(`TPM2B_PUBLIC rejects ${what}`, () => rejects(TPM2B_PUBLIC, bytes, rc));
}

test('ECC: unsupported curve is TPM_RC_CURVE, ECDAA scheme is TPM_RC_SCHEME', () => {
  const bytes = marshal(TPMT_PUBLIC, eccSigner);
  // type 0-1, nameAlg 2-3, attrs 4-7, policy 8-9 (empty), symmetric 10-11, scheme 12-15, curve 16-17
  const curve = Buffer.from(bytes);
  curve.writeUInt16BE(TPM_ECC_CURVE.NIST_P521, 16);
  rejects(TPMT_PUBLIC, curve, TPM_RC.CURVE);
  const scheme = Buffer.from(bytes);
  scheme.writeUInt16BE(TPM_ALG.ECDAA, 12);
  rejects(TPMT_PUBLIC, scheme, TPM_RC.SCHEME);
});

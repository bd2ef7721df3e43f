// The standard templates are what their names promise: the EK templates are byte for byte the
// TCG EK Credential Profile's defaults, and every template survives a marshal round trip.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshal, unmarshal } from '../wire/codec.js';
import { TPM2B_PUBLIC } from '../wire/types/index.js';
import { TPMA_OBJECT } from '../wire/attribute-bits.js';
import { attestationKeyTemplate, endorsementKeyTemplate, EK_POLICY, sealedDataTemplate, signingKeyTemplate, storageKeyTemplate } from './templates.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RSA EK template is TCG EK profile template L-1, byte for byte', () => {
  const expected = Buffer.concat([hex('013a 0001 000b 000300b2 0020'), EK_POLICY, hex('0006 0080 0043 0010 0800 00000000 0100'), Buffer.alloc(256)]);
  assert.deepEqual(marshal(TPM2B_PUBLIC, endorsementKeyTemplate('rsa2048')), expected);
});

test('ECC EK template is TCG EK profile template L-2, byte for byte', () => {
  // type ECC, nameAlg SHA-256, attributes 0x000300b2, the EK policy, AES-128-CFB, scheme NULL,
  // curve NIST P-256, kdf NULL, unique x and y of 32 zero octets.
  const expected = Buffer.concat([
    hex('007a 0023 000b 000300b2 0020'),
    EK_POLICY,
    hex('0006 0080 0043 0010 0003 0010 0020'),
    Buffer.alloc(32),
    hex('0020'),
    Buffer.alloc(32),
  ]);
  assert.deepEqual(marshal(TPM2B_PUBLIC, endorsementKeyTemplate('eccP256')), expected);
});

const all = {
  'storage rsa2048': storageKeyTemplate('rsa2048'),
  'storage eccP384': storageKeyTemplate('eccP384'),
  'signing rsa3072': signingKeyTemplate('rsa3072'),
  'signing eccP256': signingKeyTemplate('eccP256'),
  'attestation eccP256': attestationKeyTemplate('eccP256'),
  sealed: sealedDataTemplate(Buffer.alloc(32, 1)),
};

for (const [name, t] of Object.entries(all)) {
  test(`template ${name} round-trips through TPM2B_PUBLIC`, () => {
    assert.deepEqual(unmarshal(TPM2B_PUBLIC, marshal(TPM2B_PUBLIC, t)), t);
  });
}

test('attestation keys are restricted signers; storage keys restricted decrypters; sealed data neither', () => {
  const a = attestationKeyTemplate().objectAttributes;
  assert.ok(a & TPMA_OBJECT.restricted && a & TPMA_OBJECT.sign && !(a & TPMA_OBJECT.decrypt));
  const s = storageKeyTemplate().objectAttributes;
  assert.ok(s & TPMA_OBJECT.restricted && s & TPMA_OBJECT.decrypt && !(s & TPMA_OBJECT.sign));
  const d = sealedDataTemplate(Buffer.alloc(32)).objectAttributes;
  assert.ok(!(d & TPMA_OBJECT.sign) && !(d & TPMA_OBJECT.decrypt) && !(d & TPMA_OBJECT.sensitiveDataOrigin));
});

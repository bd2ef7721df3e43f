// TPM2_RSA_Encrypt / RSA_Decrypt and TPM2_ECDH_KeyGen / ECDH_ZGen in process: round trips
// against node:crypto, the scheme-selection table, and that bad input is a response code
// (TPM_RC_VALUE for any bad ciphertext) and never an internal failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createECDH, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { password } from '../../client/auth.js';
import { privateKeyOf, publicKeyOf } from '../../engine/key-material.js';
import { ECDH_KeyGen, ECDH_ZGen, RSA_Decrypt, RSA_Encrypt } from './index.js';
import { eccTemplate, loadKey, rcOf, rsaTemplate, startedTpm, storageTemplate, USER } from './test-fixture.js';

const oaep = (hashAlg: number) => ({ scheme: TPM_ALG.OAEP, details: { hashAlg } });
const RSAES = { scheme: TPM_ALG.RSAES, details: null };
const NULL = { scheme: TPM_ALG.NULL, details: null };
const auth = { auth: [password()] };
const label = Buffer.from('sealkeep\0');

const { tpm, client } = await startedTpm();
const plain = loadKey(tpm, rsaTemplate(A.decrypt | USER));
const oaepKey = loadKey(tpm, rsaTemplate(A.decrypt | USER, oaep(TPM_ALG.SHA256)));
const signer = loadKey(tpm, rsaTemplate(A.sign | USER, { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } }));
const storage = loadKey(tpm, storageTemplate());
const ecc = loadKey(tpm, eccTemplate(A.decrypt | USER));

const encrypt = (keyHandle: number, message: Buffer, inScheme: object, lbl = Buffer.alloc(0)) =>
  client.call(RSA_Encrypt, { keyHandle }, { message, inScheme: inScheme as never, label: lbl }).then((r) => r.outData);
const decrypt = (keyHandle: number, cipherText: Buffer, inScheme: object, lbl = Buffer.alloc(0)) =>
  client.call(RSA_Decrypt, { keyHandle }, { cipherText, inScheme: inScheme as never, label: lbl }, auth).then((r) => r.message);

test('OAEP-SHA256 with a label: TPM encrypts, node decrypts; node encrypts, TPM decrypts', async () => {
  const msg = randomBytes(32);
  const ct = await encrypt(plain.handle, msg, oaep(TPM_ALG.SHA256), label);
  const key = privateKeyOf(plain.obj);
  assert.deepEqual(privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, ct), msg);
  const ct2 = publicEncrypt({ key: publicKeyOf(plain.obj), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, msg);
  assert.deepEqual(await decrypt(plain.handle, ct2, oaep(TPM_ALG.SHA256), label), msg);
});

test('RSAES and raw (TPM_ALG_NULL) round trips; raw keeps the full modulus-sized block', async () => {
  const msg = Buffer.from('attack at dawn');
  assert.deepEqual(await decrypt(plain.handle, await encrypt(plain.handle, msg, RSAES), RSAES), msg);
  const raw = await decrypt(plain.handle, await encrypt(plain.handle, msg, NULL), NULL);
  assert.equal(raw.length, 256);
  assert.deepEqual(raw.subarray(256 - msg.length), msg);
  // Leading zero bytes do not count toward the size of a raw message.
  const padded = Buffer.concat([Buffer.alloc(300), msg]);
  assert.deepEqual((await decrypt(plain.handle, await encrypt(plain.handle, padded, NULL), NULL)).subarray(256 - msg.length), msg);
});

test("a key's own scheme is used when the caller asks for TPM_ALG_NULL", async () => {
  const msg = randomBytes(20);
  const ct = await encrypt(oaepKey.handle, msg, NULL);
  assert.deepEqual(await decrypt(oaepKey.handle, ct, oaep(TPM_ALG.SHA256)), msg);
  assert.deepEqual(await decrypt(oaepKey.handle, ct, NULL), msg);
});

const SCHEME_P2 = rcParam(TPM_RC.SCHEME, 2);
const cases: Array<[string, () => Promise<unknown>, number]> = [
  ['key OAEP-SHA256, asked RSAES', () => encrypt(oaepKey.handle, Buffer.from('x'), RSAES), SCHEME_P2],
  ['key OAEP-SHA256, asked OAEP-SHA1', () => encrypt(oaepKey.handle, Buffer.from('x'), oaep(TPM_ALG.SHA1)), SCHEME_P2],
  ['decrypt: key OAEP-SHA256, asked OAEP-SHA384', () => decrypt(oaepKey.handle, Buffer.alloc(256, 1), oaep(TPM_ALG.SHA384)), SCHEME_P2],
  ['label without its NUL', () => encrypt(plain.handle, Buffer.from('x'), oaep(TPM_ALG.SHA256), Buffer.from('abc')), rcParam(TPM_RC.VALUE, 3)],
  ['decrypt label without its NUL', () => decrypt(plain.handle, Buffer.alloc(256, 1), RSAES, Buffer.from('abc')), rcParam(TPM_RC.VALUE, 3)],
  ['encrypt with a sign-only key', () => encrypt(signer.handle, Buffer.from('x'), RSAES), rcHandle(TPM_RC.ATTRIBUTES, 1)],
  ['decrypt with a restricted (storage) key', () => decrypt(storage.handle, Buffer.alloc(256, 1), NULL), rcHandle(TPM_RC.ATTRIBUTES, 1)],
  ['encrypt with an ECC key', () => encrypt(ecc.handle, Buffer.from('x'), RSAES), rcHandle(TPM_RC.KEY, 1)],
  ['decrypt with an ECC key', () => decrypt(ecc.handle, Buffer.alloc(32), RSAES), rcHandle(TPM_RC.KEY, 1)],
  ['OAEP message too long', () => encrypt(plain.handle, Buffer.alloc(200, 1), oaep(TPM_ALG.SHA256)), TPM_RC.VALUE],
  ['RSAES message too long', () => encrypt(plain.handle, Buffer.alloc(246, 1), RSAES), TPM_RC.VALUE],
  ['ciphertext shorter than the modulus', () => decrypt(plain.handle, Buffer.alloc(255, 1), RSAES), TPM_RC.SIZE],
  ['ciphertext not below the modulus', () => decrypt(plain.handle, Buffer.alloc(256, 0xff), NULL), TPM_RC.VALUE],
];
for (const [name, run, rc] of cases) {
  test(`RSA: ${name} → 0x${rc.toString(16)}`, async () => assert.equal(await rcOf(run()), rc));
}

test('a restricted storage key may still RSA_Encrypt (the reference requires only decrypt)', async () => {
  assert.equal((await encrypt(storage.handle, Buffer.from('x'), RSAES)).length, 256);
});

test('random and tampered ciphertexts answer TPM_RC_VALUE, never a failure', async () => {
  const good = await encrypt(plain.handle, Buffer.from('secret'), oaep(TPM_ALG.SHA256));
  for (let i = 0; i < 40; i++) {
    const ct = i % 2 ? randomBytes(256) : Buffer.from(good);
    if (!(i % 2)) ct[i * 5] = ct[i * 5]! ^ (1 << (i % 8));
    for (const scheme of [oaep(TPM_ALG.SHA256), RSAES]) {
      const rc = await rcOf(decrypt(plain.handle, ct, scheme));
      assert.ok(rc === TPM_RC.VALUE || (scheme === RSAES && rc === 0), `got 0x${rc.toString(16)}`);
    }
  }
});

test('ECDH_KeyGen and ECDH_ZGen agree on Z, and match node:crypto', async () => {
  const { zPoint, pubPoint } = await client.call(ECDH_KeyGen, { keyHandle: ecc.handle }, {});
  const { outPoint } = await client.call(ECDH_ZGen, { keyHandle: ecc.handle }, { inPoint: pubPoint }, auth);
  assert.deepEqual(outPoint, zPoint);
  // A peer outside the TPM: node's ECDH gives the x-coordinate of the same Z.
  const peer = createECDH('prime256v1');
  peer.generateKeys();
  const peerPub = peer.getPublicKey();
  const { outPoint: z } = await client.call(ECDH_ZGen, { keyHandle: ecc.handle }, { inPoint: { x: peerPub.subarray(1, 33), y: peerPub.subarray(33) } }, auth);
  const unique = ecc.obj.public.unique as { x: Buffer; y: Buffer };
  assert.deepEqual(z.x, peer.computeSecret(Buffer.concat([Buffer.of(4), unique.x, unique.y])));
});

test('ECDH errors: a point off the curve, the wrong key type, a restricted key', async () => {
  const off = { x: Buffer.alloc(32, 1), y: Buffer.alloc(32, 2) };
  assert.equal(await rcOf(client.call(ECDH_ZGen, { keyHandle: ecc.handle }, { inPoint: off }, auth)), rcParam(TPM_RC.ECC_POINT, 1));
  assert.equal(await rcOf(client.call(ECDH_KeyGen, { keyHandle: plain.handle }, {})), rcHandle(TPM_RC.KEY, 1));
  assert.equal(await rcOf(client.call(ECDH_ZGen, { keyHandle: plain.handle }, { inPoint: off }, auth)), rcHandle(TPM_RC.KEY, 1));
  const eccStorage = loadKey(tpm, eccTemplate(A.restricted | A.decrypt | USER | A.fixedTPM | A.fixedParent, NULL, { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }));
  assert.equal(await rcOf(client.call(ECDH_ZGen, { keyHandle: eccStorage.handle }, { inPoint: off }, auth)), rcHandle(TPM_RC.ATTRIBUTES, 1));
});

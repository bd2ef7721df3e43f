// TPM2_EncryptDecrypt / EncryptDecrypt2 / HMAC in process: known keys against node:crypto for
// every mode, IV chaining across calls, and the key/mode/size rules as a table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { TPMA_OBJECT as A } from '../../wire/attribute-bits.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { password } from '../../client/auth.js';
import { aesTemplate, hmacTemplate, loadKey, rcOf, rsaTemplate, startedTpm, USER } from '../asymmetric/test-fixture.js';
import { EncryptDecrypt, EncryptDecrypt2, HMAC } from './index.js';

const auth = { auth: [password()] };
const CALLER = A.userWithAuth | A.noDA; // the caller supplies the key
const { tpm, client } = await startedTpm();
const key256 = randomBytes(32);
const anyMode = loadKey(tpm, aesTemplate(A.decrypt | A.sign | CALLER, 256, TPM_ALG.NULL), { data: key256 });
const cfbOnly = loadKey(tpm, aesTemplate(A.decrypt | A.sign | CALLER, 256, TPM_ALG.CFB), { data: key256 });
const decryptOnly = loadKey(tpm, aesTemplate(A.decrypt | CALLER, 128, TPM_ALG.NULL), { data: randomBytes(16) });
const signOnly = loadKey(tpm, aesTemplate(A.sign | CALLER, 128, TPM_ALG.NULL), { data: randomBytes(16) });
const rsa = loadKey(tpm, rsaTemplate(A.decrypt | USER));

const ed = (keyHandle: number, decrypt: number, mode: number, ivIn: Buffer, inData: Buffer) =>
  client.call(EncryptDecrypt, { keyHandle }, { decrypt, mode, ivIn, inData }, auth);
const ed2 = (keyHandle: number, decrypt: number, mode: number, ivIn: Buffer, inData: Buffer) =>
  client.call(EncryptDecrypt2, { keyHandle }, { inData, decrypt, mode, ivIn }, auth);

const MODES: Array<[string, number, string]> = [
  ['CFB', TPM_ALG.CFB, 'aes-256-cfb'],
  ['CBC', TPM_ALG.CBC, 'aes-256-cbc'],
  ['CTR', TPM_ALG.CTR, 'aes-256-ctr'],
  ['OFB', TPM_ALG.OFB, 'aes-256-ofb'],
  ['ECB', TPM_ALG.ECB, 'aes-256-ecb'],
];

for (const [name, mode, nodeName] of MODES) {
  test(`AES-256-${name}: matches node:crypto, decrypts back, and chains ivOut across calls`, async () => {
    const iv = mode === TPM_ALG.ECB ? Buffer.alloc(0) : randomBytes(16);
    const data = randomBytes(96);
    const c = createCipheriv(nodeName, key256, mode === TPM_ALG.ECB ? null : iv).setAutoPadding(false);
    const expected = Buffer.concat([c.update(data), c.final()]);
    // Two calls of 48 bytes each, the second starting from the first's ivOut.
    const first = await ed(anyMode.handle, 0, mode, iv, data.subarray(0, 48));
    const second = await ed2(anyMode.handle, 0, mode, first.ivOut, data.subarray(48));
    assert.deepEqual(Buffer.concat([first.outData, second.outData]), expected);
    const back = await ed2(anyMode.handle, 1, mode, iv, expected);
    assert.deepEqual(back.outData, data);
  });
}

test("a key with a mode uses it when the command's mode is TPM_ALG_NULL", async () => {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cfb', key256, iv);
  const data = randomBytes(33);
  assert.deepEqual((await ed(cfbOnly.handle, 0, TPM_ALG.NULL, iv, data)).outData, c.update(data));
});

const iv16 = Buffer.alloc(16);
const cases: Array<[string, () => Promise<unknown>, number]> = [
  ['mode differs from the key mode', () => ed(cfbOnly.handle, 0, TPM_ALG.CBC, iv16, Buffer.alloc(16)), rcParam(TPM_RC.MODE, 2)],
  ['EncryptDecrypt2: mode differs from the key mode', () => ed2(cfbOnly.handle, 0, TPM_ALG.CBC, iv16, Buffer.alloc(16)), rcParam(TPM_RC.MODE, 3)],
  ['no mode in key or command', () => ed(anyMode.handle, 0, TPM_ALG.NULL, iv16, Buffer.alloc(16)), rcParam(TPM_RC.MODE, 2)],
  ['CBC data not whole blocks', () => ed(anyMode.handle, 0, TPM_ALG.CBC, iv16, Buffer.alloc(17)), rcParam(TPM_RC.SIZE, 4)],
  ['EncryptDecrypt2: ECB data not whole blocks', () => ed2(anyMode.handle, 1, TPM_ALG.ECB, Buffer.alloc(0), Buffer.alloc(15)), rcParam(TPM_RC.SIZE, 1)],
  ['IV of the wrong size', () => ed(anyMode.handle, 0, TPM_ALG.CTR, Buffer.alloc(8), Buffer.alloc(16)), rcParam(TPM_RC.SIZE, 3)],
  ['EncryptDecrypt2: ECB with an IV', () => ed2(anyMode.handle, 0, TPM_ALG.ECB, iv16, Buffer.alloc(16)), rcParam(TPM_RC.SIZE, 4)],
  ['encrypt without the sign attribute', () => ed(decryptOnly.handle, 0, TPM_ALG.CFB, iv16, Buffer.alloc(4)), rcHandle(TPM_RC.ATTRIBUTES, 1)],
  ['decrypt without the decrypt attribute', () => ed(signOnly.handle, 1, TPM_ALG.CFB, iv16, Buffer.alloc(4)), rcHandle(TPM_RC.ATTRIBUTES, 1)],
  ['not a symmetric key', () => ed(rsa.handle, 0, TPM_ALG.CFB, iv16, Buffer.alloc(4)), rcHandle(TPM_RC.KEY, 1)],
];
for (const [name, run, rc] of cases) {
  test(`EncryptDecrypt: ${name} → 0x${rc.toString(16)}`, async () => assert.equal(await rcOf(run()), rc));
}

test('decrypt only: a decrypt-only key decrypts, a sign-only key encrypts', async () => {
  assert.equal((await ed(decryptOnly.handle, 1, TPM_ALG.CFB, iv16, Buffer.alloc(5))).outData.length, 5);
  assert.equal((await ed(signOnly.handle, 0, TPM_ALG.CFB, iv16, Buffer.alloc(5))).outData.length, 5);
});

const hmacKey = randomBytes(32);
const hmacSha256 = loadKey(tpm, hmacTemplate(A.sign | CALLER, TPM_ALG.SHA256), { data: hmacKey });
// Sign and decrypt both set: the only keyed hash without its own scheme that may sign.
const hmacAny = loadKey(tpm, hmacTemplate(A.sign | A.decrypt | CALLER, null), { data: hmacKey });
const hmac = (handle: number, buffer: Buffer, hashAlg: number) => client.call(HMAC, { handle }, { buffer, hashAlg }, auth);

test('HMAC matches node:crypto, with the key hash or the caller hash', async () => {
  const data = randomBytes(100);
  const expected = createHmac('sha256', hmacKey).update(data).digest();
  assert.deepEqual((await hmac(hmacSha256.handle, data, TPM_ALG.NULL)).outHMAC, expected);
  assert.deepEqual((await hmac(hmacSha256.handle, data, TPM_ALG.SHA256)).outHMAC, expected);
  assert.deepEqual((await hmac(hmacAny.handle, data, TPM_ALG.SHA384)).outHMAC, createHmac('sha384', hmacKey).update(data).digest());
});

test('HMAC errors: hash mismatch, no hash at all, not a keyed hash, not a signing key', async () => {
  assert.equal(await rcOf(hmac(hmacSha256.handle, Buffer.alloc(1), TPM_ALG.SHA1)), rcParam(TPM_RC.VALUE, 2));
  assert.equal(await rcOf(hmac(hmacAny.handle, Buffer.alloc(1), TPM_ALG.NULL)), rcParam(TPM_RC.VALUE, 2));
  assert.equal(await rcOf(hmac(anyMode.handle, Buffer.alloc(1), TPM_ALG.SHA256)), rcHandle(TPM_RC.TYPE, 1));
  const sealed = loadKey(tpm, hmacTemplate(CALLER, null), { data: Buffer.from('sealed') });
  assert.equal(await rcOf(hmac(sealed.handle, Buffer.alloc(1), TPM_ALG.SHA256)), rcHandle(TPM_RC.KEY, 1));
});

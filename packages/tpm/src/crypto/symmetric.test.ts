// AES modes and their chaining values (Part 1 §11.4.6, Part 3 §15.2), with NIST SP 800-38A
// Appendix F first-block known answers (AES-128, key 2b7e1516…).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { CryptoFailure } from './errors.js';
import { cfbDecrypt, cfbEncrypt, symmetricDecrypt, symmetricEncrypt } from './symmetric.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const KEY = hex('2b7e151628aed2a6abf7158809cf4f3c');
const P1 = hex('6bc1bee22e409f96e93d7e117393172a');
const IV = hex('000102030405060708090a0b0c0d0e0f');
const CTR_IV = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');

describe('AES modes, SP 800-38A Appendix F (first block)', () => {
  const cases: [string, number, Buffer, string][] = [
    ['F.1.1 ECB', TPM_ALG.ECB, Buffer.alloc(0), '3ad77bb40d7a3660a89ecaf32466ef97'],
    ['F.2.1 CBC', TPM_ALG.CBC, IV, '7649abac8119b246cee98e9b12e9197d'],
    ['F.3.13 CFB128', TPM_ALG.CFB, IV, '3b3fd92eb72dad20333449f8e83cfb4a'],
    ['F.4.1 OFB', TPM_ALG.OFB, IV, '3b3fd92eb72dad20333449f8e83cfb4a'],
    ['F.5.1 CTR', TPM_ALG.CTR, CTR_IV, '874d6191b620e3261bef6864990db6ce'],
  ];
  for (const [name, mode, iv, expected] of cases) {
    it(name, () => {
      const { output } = symmetricEncrypt(TPM_ALG.AES, KEY, mode, iv, P1);
      assert.equal(output.toString('hex'), expected);
      assert.deepEqual(symmetricDecrypt(TPM_ALG.AES, KEY, mode, iv, output).output, P1);
    });
  }
});

describe('chaining (ivOut)', () => {
  const data = Buffer.from(Array.from({ length: 80 }, (_, i) => i));
  for (const mode of [TPM_ALG.CFB, TPM_ALG.OFB, TPM_ALG.CBC, TPM_ALG.CTR, TPM_ALG.ECB]) {
    it(`mode 0x${mode.toString(16)}: two calls chained by ivOut equal one call`, () => {
      const iv = mode === TPM_ALG.ECB ? Buffer.alloc(0) : IV;
      const whole = symmetricEncrypt(TPM_ALG.AES, KEY, mode, iv, data);
      const a = symmetricEncrypt(TPM_ALG.AES, KEY, mode, iv, data.subarray(0, 48));
      const b = symmetricEncrypt(TPM_ALG.AES, KEY, mode, a.ivOut, data.subarray(48));
      assert.deepEqual(Buffer.concat([a.output, b.output]), whole.output);
      assert.deepEqual(b.ivOut, whole.ivOut);
      const d1 = symmetricDecrypt(TPM_ALG.AES, KEY, mode, iv, whole.output.subarray(0, 48));
      const d2 = symmetricDecrypt(TPM_ALG.AES, KEY, mode, d1.ivOut, whole.output.subarray(48));
      assert.deepEqual(Buffer.concat([d1.output, d2.output]), data);
      assert.deepEqual(d2.ivOut, whole.ivOut);
    });
  }

  it('CFB partial block: ivOut is the ciphertext tail padded with zeros', () => {
    const r = symmetricEncrypt(TPM_ALG.AES, KEY, TPM_ALG.CFB, IV, data.subarray(0, 20));
    assert.deepEqual(r.ivOut, Buffer.concat([r.output.subarray(16), Buffer.alloc(12)]));
  });

  it('CTR counts partial blocks and wraps at 2^128', () => {
    const r = symmetricEncrypt(TPM_ALG.AES, KEY, TPM_ALG.CTR, Buffer.alloc(16, 0xff), data.subarray(0, 17));
    assert.deepEqual(r.ivOut, Buffer.concat([Buffer.alloc(15), Buffer.of(1)]));
  });

  it('CBC and ECB need whole blocks (TPM_RC_SIZE)', () => {
    assert.throws(
      () => symmetricEncrypt(TPM_ALG.AES, KEY, TPM_ALG.CBC, IV, data.subarray(0, 17)),
      (e: unknown) => e instanceof CryptoFailure && e.rc === TPM_RC.SIZE,
    );
  });

  it('zero-IV CFB helpers round-trip with AES-256', () => {
    const key = Buffer.alloc(32, 9);
    assert.deepEqual(cfbDecrypt(key, cfbEncrypt(key, data)), data);
  });
});

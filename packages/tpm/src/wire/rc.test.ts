import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TPM_RC } from './constants.js';
import { baseRc, describeRc, rcHandle, rcLocation, rcParam, rcSession, TpmError } from './rc.js';

// Encodings checked against Part 2 §6.6 (RC_FMT1 0x080, P 0x040, S 0x800, N in bits 8-11) and
// codes commonly reported by TPMs (0x1C4, 0x18B, 0x98E, 0x9A2).
const encodings: Array<[string, number, number]> = [
  ['VALUE, parameter 1', rcParam(TPM_RC.VALUE, 1), 0x1c4],
  ['SIZE, parameter 2', rcParam(TPM_RC.SIZE, 2), 0x2d5],
  ['HASH, parameter 15', rcParam(TPM_RC.HASH, 15), 0xfc3],
  ['HANDLE, handle 1', rcHandle(TPM_RC.HANDLE, 1), 0x18b],
  ['VALUE, handle 2', rcHandle(TPM_RC.VALUE, 2), 0x284],
  ['HANDLE, session 1', rcSession(TPM_RC.HANDLE, 1), 0x98b],
  ['AUTH_FAIL, session 1', rcSession(TPM_RC.AUTH_FAIL, 1), 0x98e],
  ['BAD_AUTH, session 1', rcSession(TPM_RC.BAD_AUTH, 1), 0x9a2],
  ['format zero is left alone', rcParam(TPM_RC.INITIALIZE, 1), 0x100],
  ['warnings are left alone', rcHandle(TPM_RC.LOCALITY, 1), 0x907],
];
for (const [what, got, want] of encodings) {
  test(`rc encoding: ${what}`, () => assert.equal(got, want));
}

test('baseRc strips index and P bit, keeps format-zero codes', () => {
  assert.equal(baseRc(0x1c4), TPM_RC.VALUE);
  assert.equal(baseRc(0x98e), TPM_RC.AUTH_FAIL);
  assert.equal(baseRc(0xfc3), TPM_RC.HASH);
  assert.equal(baseRc(TPM_RC.NV_LOCKED), TPM_RC.NV_LOCKED);
  assert.equal(baseRc(TPM_RC.RETRY), TPM_RC.RETRY);
});

test('rcLocation', () => {
  assert.deepEqual(rcLocation(0x2d5), { kind: 'parameter', index: 2 });
  assert.deepEqual(rcLocation(0x18b), { kind: 'handle', index: 1 });
  assert.deepEqual(rcLocation(0x98b), { kind: 'session', index: 1 });
  assert.equal(rcLocation(TPM_RC.VALUE), null);
  assert.equal(rcLocation(TPM_RC.INITIALIZE), null);
});

const descriptions: Array<[number, string]> = [
  [0x000, 'TPM_RC_SUCCESS'],
  [0x100, 'TPM_RC_INITIALIZE'],
  [0x01e, 'TPM_RC_BAD_TAG'],
  [0x2d5, 'TPM_RC_SIZE (parameter 2)'],
  [0x1c4, 'TPM_RC_VALUE (parameter 1)'],
  [0x18b, 'TPM_RC_HANDLE (handle 1)'],
  [0x98e, 'TPM_RC_AUTH_FAIL (session 1)'],
  [0x084, 'TPM_RC_VALUE'],
  [0x907, 'TPM_RC_LOCALITY (warning)'],
  [0x921, 'TPM_RC_LOCKOUT (warning)'],
  [0x14c, 'TPM_RC_NV_DEFINED'],
  [0x17f, 'TPM_RC 0x17f'],
  [0x0ab, 'format-one error 0x0ab'],
  [0x500, 'vendor-defined response code 0x500'],
];
for (const [code, want] of descriptions) {
  test(`describeRc(0x${code.toString(16)}) = ${want}`, () => assert.equal(describeRc(code), want));
}

test('index bounds are enforced', () => {
  assert.throws(() => rcParam(TPM_RC.VALUE, 0), RangeError);
  assert.throws(() => rcParam(TPM_RC.VALUE, 16), RangeError);
  assert.throws(() => rcHandle(TPM_RC.VALUE, 8), RangeError);
  assert.throws(() => rcSession(TPM_RC.VALUE, 8), RangeError);
});

test('TpmError carries the code and reads in spec words', () => {
  const e = new TpmError(0x2d5, 'TPM2_Create');
  assert.ok(e instanceof Error);
  assert.equal(e.rc, 0x2d5);
  assert.equal(e.base, TPM_RC.SIZE);
  assert.ok(e.is(TPM_RC.SIZE));
  assert.deepEqual(e.location, { kind: 'parameter', index: 2 });
  assert.equal(e.message, 'TPM2_Create: TPM_RC_SIZE (parameter 2)');
});

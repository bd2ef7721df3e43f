import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marshal, struct, u32, unmarshal } from '../codec.js';
import { TPM_ALG, TPM_CC, TPM_RC, TPM_ST } from '../constants.js';
import { TPMI_ST_COMMAND_TAG } from './base.js';
import { pcrBitmap, pcrIndices, pcrSelection, TPML_DIGEST, TPML_DIGEST_OUT, TPML_PCR_SELECTION, TPMS_PCR_SELECTION } from './pcr.js';
import { hex, rejects, roundTrip } from './test-util.js';

// TPM2_PCR_Read of SHA-1 PCR 0 and its response, as traced by the IBM TSS against a TPM.
const PCR_READ_COMMAND = hex('8001 00000014 0000017e 00000001 0004 03 010000');
const PCR_READ_RESPONSE = hex(
  '8001 00000032 00000000 00000069 00000001 0004 03 010000 00000001 0014 10527370c80bec19c45c6751ff964b2be1865b6d',
);
const PcrReadCommand = struct('TPM2_PCR_Read command', {
  tag: TPMI_ST_COMMAND_TAG, commandSize: u32, commandCode: u32, pcrSelectionIn: TPML_PCR_SELECTION,
});
const PcrReadResponse = struct('TPM2_PCR_Read response', {
  tag: TPMI_ST_COMMAND_TAG, responseSize: u32, responseCode: u32,
  pcrUpdateCounter: u32, pcrSelectionOut: TPML_PCR_SELECTION, pcrValues: TPML_DIGEST_OUT,
});

test('TPM2_PCR_Read command bytes', () => {
  const cmd = {
    tag: TPM_ST.NO_SESSIONS, commandSize: 20, commandCode: TPM_CC.PCR_Read,
    pcrSelectionIn: [pcrSelection(TPM_ALG.SHA1, [0])],
  };
  assert.deepEqual(marshal(PcrReadCommand, cmd), PCR_READ_COMMAND);
  assert.deepEqual(unmarshal(PcrReadCommand, PCR_READ_COMMAND), cmd);
});

test('TPM2_PCR_Read response bytes (one digest: TPML_DIGEST_OUT, not the PolicyOR {2:} form)', () => {
  const rsp = unmarshal(PcrReadResponse, PCR_READ_RESPONSE);
  assert.equal(rsp.pcrUpdateCounter, 0x69);
  assert.deepEqual(pcrIndices(rsp.pcrSelectionOut[0]!.pcrSelect), [0]);
  assert.deepEqual(rsp.pcrValues, [hex('10527370c80bec19c45c6751ff964b2be1865b6d')]);
  assert.deepEqual(marshal(PcrReadResponse, rsp), PCR_READ_RESPONSE);
  rejects(TPML_DIGEST, PCR_READ_RESPONSE.subarray(30), TPM_RC.SIZE);
});

test('PCR bitmap: PCR n is bit n%8 of octet n/8', () => {
  assert.deepEqual(pcrBitmap([7]), hex('800000'));
  assert.deepEqual(pcrBitmap([0, 1, 2, 3, 4, 5, 6, 7]), hex('ff0000'));
  assert.deepEqual(pcrBitmap([8, 16, 23]), hex('000181'));
  assert.deepEqual(pcrIndices(hex('810081')), [0, 7, 16, 23]);
  assert.deepEqual(pcrIndices(pcrBitmap([3, 17, 22])), [3, 17, 22]);
  assert.throws(() => pcrBitmap([24]), RangeError);
  assert.deepEqual(marshal(TPMS_PCR_SELECTION, pcrSelection(TPM_ALG.SHA256, [7])), hex('000b 03 800000'));
});

test('PCR selection round trips and rejections', () => {
  roundTrip(TPML_PCR_SELECTION, [pcrSelection(TPM_ALG.SHA1, [0, 1]), pcrSelection(TPM_ALG.SHA256, [7, 23])]);
  roundTrip(TPML_DIGEST, [Buffer.alloc(32, 1), Buffer.alloc(32, 2)]);
  rejects(TPMS_PCR_SELECTION, hex('000b 04 80000000'), TPM_RC.VALUE); // sizeofSelect > PCR_SELECT_MAX
  rejects(TPMS_PCR_SELECTION, hex('000b 01 80'), TPM_RC.VALUE); // sizeofSelect < PCR_SELECT_MIN
  rejects(TPMS_PCR_SELECTION, hex('000d 03 800000'), TPM_RC.HASH);
  rejects(TPMS_PCR_SELECTION, hex('000b 03 8000'), TPM_RC.INSUFFICIENT);
  rejects(TPML_PCR_SELECTION, hex('00000004'), TPM_RC.SIZE); // more banks than HASH_COUNT
  rejects(TPML_DIGEST, hex('00000009'), TPM_RC.SIZE);
});

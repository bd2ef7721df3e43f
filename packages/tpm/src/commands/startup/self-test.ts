// TPM2_SelfTest, TPM2_IncrementalSelfTest, TPM2_GetTestResult — Part 3 §10.2–10.4.
// The emulator's algorithms are node:crypto's, tested when the process starts; every
// self-test therefore passes at once and nothing is left to test.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { u32 } from '../../wire/codec.js';
import { TPMI_YES_NO, TPML_ALG, TPM2B_MAX_BUFFER } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const SelfTest = defineCommand({
  name: 'SelfTest',
  code: TPM_CC.SelfTest,
  params: { fullTest: TPMI_YES_NO },
  execute: () => ({}),
});

export const IncrementalSelfTest = defineCommand({
  name: 'IncrementalSelfTest',
  code: TPM_CC.IncrementalSelfTest,
  params: { toTest: TPML_ALG },
  response: { toDoList: TPML_ALG },
  execute: () => ({ toDoList: [] }),
});

export const GetTestResult = defineCommand({
  name: 'GetTestResult',
  code: TPM_CC.GetTestResult,
  response: { outData: TPM2B_MAX_BUFFER, testResult: u32 },
  execute: () => ({ outData: Buffer.alloc(0), testResult: TPM_RC.SUCCESS }),
});

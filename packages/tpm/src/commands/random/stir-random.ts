// TPM2_StirRandom — Part 3 §16.2. The emulator's DRBG is the operating system's; additional
// input is accepted (and bounded) but cannot weaken it, so it is not mixed into anything.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_SENSITIVE_DATA } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const StirRandom = defineCommand({
  name: 'StirRandom',
  code: TPM_CC.StirRandom,
  params: { inData: TPM2B_SENSITIVE_DATA },
  execute: () => ({}),
});

// TPM2_GetRandom — Part 3 §16.1: at most one digest's worth of bytes per call.
import { randomBytes } from 'node:crypto';
import { TPM_CC } from '../../wire/command-codes.js';
import { u16 } from '../../wire/codec.js';
import { TPM2B_DIGEST } from '../../wire/types/index.js';
import { MAX_DIGEST_SIZE } from '../../wire/limits.js';
import { defineCommand } from '../../engine/command.js';

export const GetRandom = defineCommand({
  name: 'GetRandom',
  code: TPM_CC.GetRandom,
  params: { bytesRequested: u16 },
  response: { randomBytes: TPM2B_DIGEST },
  execute: (_tpm, _h, { bytesRequested }) => ({ randomBytes: randomBytes(Math.min(bytesRequested, MAX_DIGEST_SIZE)) }),
});

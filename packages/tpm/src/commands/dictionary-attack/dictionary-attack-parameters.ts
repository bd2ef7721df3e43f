// TPM2_DictionaryAttackParameters — Part 3 §25.3: maxTries, recoveryTime and lockoutRecovery
// (seconds); the failure count starts again from zero.
import { TPM_CC } from '../../wire/command-codes.js';
import { u32 } from '../../wire/codec.js';
import { TPMI_RH_LOCKOUT } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const DictionaryAttackParameters = defineCommand({
  name: 'DictionaryAttackParameters',
  code: TPM_CC.DictionaryAttackParameters,
  handles: { lockHandle: { codec: TPMI_RH_LOCKOUT, auth: 'USER' } },
  params: { newMaxTries: u32, newRecoveryTime: u32, lockoutRecovery: u32 },
  execute(tpm, _h, { newMaxTries, newRecoveryTime, lockoutRecovery }) {
    tpm.da.setParameters(newMaxTries, newRecoveryTime, lockoutRecovery);
    return {};
  },
});

// TPM2_DictionaryAttackLockReset — Part 3 §25.2: lockout authorization cancels a lockout by
// setting the failure count to zero.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMI_RH_LOCKOUT } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const DictionaryAttackLockReset = defineCommand({
  name: 'DictionaryAttackLockReset',
  code: TPM_CC.DictionaryAttackLockReset,
  handles: { lockHandle: { codec: TPMI_RH_LOCKOUT, auth: 'USER' } },
  execute(tpm) {
    tpm.da.reset();
    return {};
  },
});

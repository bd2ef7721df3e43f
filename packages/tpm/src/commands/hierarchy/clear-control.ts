// TPM2_ClearControl — Part 3 §24.7: SET or CLEAR disableClear; lockout may only SET it.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMI_RH_CLEAR, TPMI_YES_NO } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const ClearControl = defineCommand({
  name: 'ClearControl',
  code: TPM_CC.ClearControl,
  handles: { auth: { codec: TPMI_RH_CLEAR, auth: 'USER' } },
  params: { disable: TPMI_YES_NO },
  execute(tpm, { auth }, { disable }) {
    if (auth === TPM_RH.LOCKOUT && !disable) fail(TPM_RC.AUTH_FAIL);
    tpm.hierarchy.disableClear = disable === 1;
    return {};
  },
});

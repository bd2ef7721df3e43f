// TPM2_PCR_Reset — Part 3 §22.8
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { TPMI_DH_PCR } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const PCR_Reset = defineCommand({
  name: 'PCR_Reset',
  code: TPM_CC.PCR_Reset,
  handles: { pcrHandle: { codec: TPMI_DH_PCR, auth: 'USER' } },
  execute(tpm, { pcrHandle }, _p, { locality }) {
    if (!tpm.pcr.canReset(pcrHandle, locality)) fail(TPM_RC.LOCALITY);
    tpm.pcr.reset(pcrHandle);
    return {};
  },
});

// TPM2_Shutdown — Part 3 §9.4
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_SU } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const Shutdown = defineCommand({
  name: 'Shutdown',
  code: TPM_CC.Shutdown,
  params: { shutdownType: TPM_SU },
  execute(tpm, _h, { shutdownType }) {
    tpm.shutdownTpm(shutdownType);
    return {};
  },
});

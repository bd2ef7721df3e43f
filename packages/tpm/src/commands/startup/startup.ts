// TPM2_Startup — Part 3 §9.3
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_SU } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const Startup = defineCommand({
  name: 'Startup',
  code: TPM_CC.Startup,
  beforeStartup: true,
  params: { startupType: TPM_SU },
  execute(tpm, _h, { startupType }) {
    tpm.startup(startupType);
    return {};
  },
});

// TPM2_NV_ReadPublic — Part 3 §31.6: the public area and the Name, which follows the attributes.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_NAME, TPM2B_NV_PUBLIC, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const NV_ReadPublic = defineCommand({
  name: 'NV_ReadPublic',
  code: TPM_CC.NV_ReadPublic,
  handles: { nvIndex: { codec: TPMI_RH_NV_INDEX } },
  response: { nvPublic: TPM2B_NV_PUBLIC, nvName: TPM2B_NAME },
  execute(tpm, { nvIndex }) {
    const index = tpm.nv.get(nvIndex);
    return { nvPublic: index.public, nvName: index.name };
  },
});

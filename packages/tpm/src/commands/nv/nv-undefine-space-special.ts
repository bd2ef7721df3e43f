// TPM2_NV_UndefineSpaceSpecial — Part 3 §31.5: an index with TPMA_NV_POLICY_DELETE is deleted
// with its policy (ADMIN role) and platform authorization.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPMA_NV } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_INDEX, TPMI_RH_PLATFORM } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const NV_UndefineSpaceSpecial = defineCommand({
  name: 'NV_UndefineSpaceSpecial',
  code: TPM_CC.NV_UndefineSpaceSpecial,
  handles: { nvIndex: { codec: TPMI_RH_NV_INDEX, auth: 'ADMIN' }, platform: { codec: TPMI_RH_PLATFORM, auth: 'USER' } },
  execute(tpm, { nvIndex }) {
    if ((tpm.nv.get(nvIndex).public.attributes & TPMA_NV.POLICY_DELETE) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    tpm.nv.undefine(nvIndex);
    return {};
  },
});

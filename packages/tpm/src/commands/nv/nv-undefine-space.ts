// TPM2_NV_UndefineSpace — Part 3 §31.4: the owner deletes only indices it created; the platform
// any index; an index with TPMA_NV_POLICY_DELETE only through NV_UndefineSpaceSpecial.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH, TPMA_NV } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_INDEX, TPMI_RH_PROVISION } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const NV_UndefineSpace = defineCommand({
  name: 'NV_UndefineSpace',
  code: TPM_CC.NV_UndefineSpace,
  handles: { authHandle: { codec: TPMI_RH_PROVISION, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  execute(tpm, { authHandle, nvIndex }) {
    const a = tpm.nv.get(nvIndex).public.attributes;
    if (a & TPMA_NV.POLICY_DELETE) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    if (authHandle === TPM_RH.OWNER && a & TPMA_NV.PLATFORMCREATE) fail(TPM_RC.NV_AUTHORIZATION);
    tpm.nv.undefine(nvIndex);
    return {};
  },
});

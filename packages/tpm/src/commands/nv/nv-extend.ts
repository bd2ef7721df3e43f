// TPM2_NV_Extend — Part 3 §31.9: an extend index becomes H(old || data) with the index's
// nameAlg; an unwritten one starts from zeros.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_NT, TPM_RC, TPMA_NV, nvIndexType } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPM2B_MAX_NV_BUFFER, TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { writeAccessError } from './access.js';

export const NV_Extend = defineCommand({
  name: 'NV_Extend',
  code: TPM_CC.NV_Extend,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  params: { data: TPM2B_MAX_NV_BUFFER },
  execute(tpm, { authHandle, nvIndex }, { data }) {
    const index = tpm.nv.get(nvIndex);
    const { attributes, nameAlg, dataSize } = index.public;
    const rc = writeAccessError(authHandle, nvIndex, attributes);
    if (rc) fail(rc);
    if (nvIndexType(attributes) !== TPM_NT.EXTEND) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    const old = attributes & TPMA_NV.WRITTEN ? index.data : Buffer.alloc(dataSize);
    tpm.nv.write(nvIndex, 0, digest(nameAlg, old, data));
    return {};
  },
});

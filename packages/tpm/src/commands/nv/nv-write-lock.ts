// TPM2_NV_WriteLock — Part 3 §31.11: an index with TPMA_NV_WRITEDEFINE or WRITE_STCLEAR gets
// TPMA_NV_WRITELOCKED; locking a locked index is no error.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPMA_NV } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { writeAccessError } from './access.js';

export const NV_WriteLock = defineCommand({
  name: 'NV_WriteLock',
  code: TPM_CC.NV_WriteLock,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  execute(tpm, { authHandle, nvIndex }) {
    const { attributes } = tpm.nv.get(nvIndex).public;
    const rc = writeAccessError(authHandle, nvIndex, attributes);
    if (rc === TPM_RC.NV_AUTHORIZATION) fail(rc);
    if (rc === TPM_RC.NV_LOCKED) return {};
    if ((attributes & (TPMA_NV.WRITEDEFINE | TPMA_NV.WRITE_STCLEAR)) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    tpm.nv.update(nvIndex, attributes | TPMA_NV.WRITELOCKED);
    return {};
  },
});

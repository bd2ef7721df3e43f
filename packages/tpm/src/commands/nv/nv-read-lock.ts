// TPM2_NV_ReadLock — Part 3 §31.14: an index with TPMA_NV_READ_STCLEAR gets TPMA_NV_READLOCKED
// until the next Startup(CLEAR); locking a locked or an unwritten index is no error.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPMA_NV } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { readAccessError } from './access.js';

export const NV_ReadLock = defineCommand({
  name: 'NV_ReadLock',
  code: TPM_CC.NV_ReadLock,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  execute(tpm, { authHandle, nvIndex }) {
    const { attributes } = tpm.nv.get(nvIndex).public;
    const rc = readAccessError(authHandle, nvIndex, attributes);
    if (rc === TPM_RC.NV_AUTHORIZATION) fail(rc);
    if (rc === TPM_RC.NV_LOCKED) return {};
    if ((attributes & TPMA_NV.READ_STCLEAR) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    tpm.nv.update(nvIndex, attributes | TPMA_NV.READLOCKED);
    return {};
  },
});

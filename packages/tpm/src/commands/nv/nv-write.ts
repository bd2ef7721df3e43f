// TPM2_NV_Write — Part 3 §31.7: ordinary indices only; the range must lie inside the index,
// and a TPMA_NV_WRITEALL index takes only whole writes.
import { TPM_CC } from '../../wire/command-codes.js';
import { u16 } from '../../wire/codec.js';
import { TPM_NT, TPM_RC, TPMA_NV, nvIndexType } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_MAX_NV_BUFFER, TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { writeAccessError } from './access.js';

export const NV_Write = defineCommand({
  name: 'NV_Write',
  code: TPM_CC.NV_Write,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  params: { data: TPM2B_MAX_NV_BUFFER, offset: u16 },
  execute(tpm, { authHandle, nvIndex }, { data, offset }) {
    const { attributes, dataSize } = tpm.nv.get(nvIndex).public;
    const rc = writeAccessError(authHandle, nvIndex, attributes);
    if (rc) fail(rc);
    if (nvIndexType(attributes) !== TPM_NT.ORDINARY) fail(TPM_RC.ATTRIBUTES);
    if (offset > dataSize) fail(rcParam(TPM_RC.VALUE, 2));
    if (data.length > dataSize - offset) fail(TPM_RC.NV_RANGE);
    if (attributes & TPMA_NV.WRITEALL && data.length < dataSize) fail(TPM_RC.NV_RANGE);
    tpm.nv.write(nvIndex, offset, data);
    return {};
  },
});

// TPM2_NV_Read — Part 3 §31.13: at most MAX_NV_BUFFER_SIZE octets from inside a written index.
import { TPM_CC } from '../../wire/command-codes.js';
import { u16 } from '../../wire/codec.js';
import { TPM_RC } from '../../wire/constants.js';
import { MAX_NV_BUFFER_SIZE } from '../../wire/limits.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_MAX_NV_BUFFER, TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { readAccessError } from './access.js';

export const NV_Read = defineCommand({
  name: 'NV_Read',
  code: TPM_CC.NV_Read,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  params: { size: u16, offset: u16 },
  response: { data: TPM2B_MAX_NV_BUFFER },
  execute(tpm, { authHandle, nvIndex }, { size, offset }) {
    const index = tpm.nv.get(nvIndex);
    const { attributes, dataSize } = index.public;
    const rc = readAccessError(authHandle, nvIndex, attributes);
    if (rc) fail(rc);
    if (size > MAX_NV_BUFFER_SIZE) fail(rcParam(TPM_RC.VALUE, 1));
    if (offset > dataSize) fail(rcParam(TPM_RC.VALUE, 2));
    if (size > dataSize - offset) fail(TPM_RC.NV_RANGE);
    return { data: Buffer.from(index.data.subarray(offset, offset + size)) };
  },
});

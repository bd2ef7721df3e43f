// TPM2_NV_Increment — Part 3 §31.8: a counter index counts up by one; its first increment
// starts above the largest count a deleted counter held, so counters never go back.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_NT, TPM_RC, nvIndexType } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { writeAccessError } from './access.js';

export const NV_Increment = defineCommand({
  name: 'NV_Increment',
  code: TPM_CC.NV_Increment,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  execute(tpm, { authHandle, nvIndex }) {
    const { attributes } = tpm.nv.get(nvIndex).public;
    const rc = writeAccessError(authHandle, nvIndex, attributes);
    if (rc) fail(rc);
    if (nvIndexType(attributes) !== TPM_NT.COUNTER) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    const next = Buffer.alloc(8);
    next.writeBigUInt64BE(BigInt.asUintN(64, tpm.nv.counterValue(nvIndex) + 1n));
    tpm.nv.write(nvIndex, 0, next);
    return {};
  },
});

// TPM2_NV_SetBits — Part 3 §31.10: a bit-field index ORs in the new bits; an unwritten one starts at 0.
import { TPM_CC } from '../../wire/command-codes.js';
import { u64 } from '../../wire/codec.js';
import { TPM_NT, TPM_RC, TPMA_NV, nvIndexType } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { writeAccessError } from './access.js';

export const NV_SetBits = defineCommand({
  name: 'NV_SetBits',
  code: TPM_CC.NV_SetBits,
  handles: { authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' }, nvIndex: { codec: TPMI_RH_NV_INDEX } },
  params: { bits: u64 },
  execute(tpm, { authHandle, nvIndex }, { bits }) {
    const index = tpm.nv.get(nvIndex);
    const { attributes } = index.public;
    const rc = writeAccessError(authHandle, nvIndex, attributes);
    if (rc) fail(rc);
    if (nvIndexType(attributes) !== TPM_NT.BITS) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    const old = attributes & TPMA_NV.WRITTEN ? index.data.readBigUInt64BE(0) : 0n;
    const next = Buffer.alloc(8);
    next.writeBigUInt64BE(old | bits);
    tpm.nv.write(nvIndex, 0, next);
    return {};
  },
});

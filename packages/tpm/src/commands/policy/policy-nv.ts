// TPM2_PolicyNV — Part 3 §23.9: the policy holds only while NV data compares with operandB as
// `operation` says (checked in a real session; a trial session only computes).
// policyDigest' = H(policyDigest || TPM_CC_PolicyNV || H(operandB || offset || operation) || nvIndex.Name).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { u16 } from '../../wire/codec.js';
import { TPM2B_OPERAND, TPM_EO, TPMI_RH_NV_AUTH, TPMI_RH_NV_INDEX, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { checkCondition, extendPolicy, policySession, u16be } from '../../engine/policy.js';
import { readAccessError } from '../nv/access.js';

export const PolicyNV = defineCommand({
  name: 'PolicyNV',
  code: TPM_CC.PolicyNV,
  handles: {
    authHandle: { codec: TPMI_RH_NV_AUTH, auth: 'USER' },
    nvIndex: { codec: TPMI_RH_NV_INDEX },
    policySession: { codec: TPMI_SH_POLICY },
  },
  params: { operandB: TPM2B_OPERAND, offset: u16, operation: TPM_EO },
  execute(tpm, { authHandle, nvIndex, policySession: handle }, { operandB, offset, operation }) {
    const s = policySession(tpm, handle);
    const index = tpm.nv.get(nvIndex);
    if (!s.isTrial) {
      const rc = readAccessError(authHandle, nvIndex, index.public.attributes);
      if (rc) fail(rc);
      if (offset > index.public.dataSize) fail(rcParam(TPM_RC.VALUE, 2));
      if (index.public.dataSize - offset < operandB.length) fail(rcParam(TPM_RC.SIZE, 1));
      if (!checkCondition(operation, index.data.subarray(offset, offset + operandB.length), operandB)) fail(TPM_RC.POLICY);
    }
    const args = digest(s.hashAlg, operandB, u16be(offset), u16be(operation));
    extendPolicy(s, TPM_CC.PolicyNV, args, index.name);
    return {};
  },
});

// TPM2_PolicyNvWritten — Part 3 §23.20: the authorized NV index must (or must not) have been
// written. policyDigest' = H(policyDigest || TPM_CC_PolicyNvWritten || writtenSet).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMI_SH_POLICY, TPMI_YES_NO } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyNvWritten = defineCommand({
  name: 'PolicyNvWritten',
  code: TPM_CC.PolicyNvWritten,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { writtenSet: TPMI_YES_NO },
  execute(tpm, { policySession: handle }, { writtenSet }) {
    const s = policySession(tpm, handle);
    const want = writtenSet === 1;
    if (s.policy.nvWritten !== undefined && s.policy.nvWritten !== want) fail(rcParam(TPM_RC.VALUE, 1));
    extendPolicy(s, TPM_CC.PolicyNvWritten, Buffer.of(writtenSet));
    s.policy.nvWritten = want;
    return {};
  },
});

// TPM2_PolicyOR — Part 3 §23.6: the session satisfies one of several policies (its digest is in
// pHashList); policyDigest' = H(0…0 || TPM_CC_PolicyOR || digests). A trial session only computes.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMI_SH_POLICY, TPML_DIGEST } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyOR = defineCommand({
  name: 'PolicyOR',
  code: TPM_CC.PolicyOR,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { pHashList: TPML_DIGEST },
  execute(tpm, { policySession: handle }, { pHashList }) {
    const s = policySession(tpm, handle);
    if (!s.isTrial && !pHashList.some((d) => d.equals(s.policy.digest))) fail(rcParam(TPM_RC.VALUE, 1));
    s.policy.digest = Buffer.alloc(s.policy.digest.length);
    extendPolicy(s, TPM_CC.PolicyOR, ...pHashList);
    return {};
  },
});

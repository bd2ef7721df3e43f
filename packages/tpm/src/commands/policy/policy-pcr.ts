// TPM2_PolicyPCR — Part 3 §23.7: bind the policy to PCR values. A real session compares the
// caller's pcrDigest (if any) with the current values and remembers the PCR update counter; a
// trial session takes the caller's digest, or the current one when it is empty.
// policyDigest' = H(policyDigest || TPM_CC_PolicyPCR || pcrs || digestTPM).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { marshal } from '../../wire/codec.js';
import { TPM2B_DIGEST, TPMI_SH_POLICY, TPML_PCR_SELECTION } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, pcrSelectionDigest, policySession } from '../../engine/policy.js';

export const PolicyPCR = defineCommand({
  name: 'PolicyPCR',
  code: TPM_CC.PolicyPCR,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { pcrDigest: TPM2B_DIGEST, pcrs: TPML_PCR_SELECTION },
  execute(tpm, { policySession: handle }, { pcrDigest, pcrs }) {
    const s = policySession(tpm, handle);
    let current = pcrSelectionDigest(tpm, s.hashAlg, pcrs);
    if (!s.isTrial) {
      if (s.policy.pcrCounter !== undefined && s.policy.pcrCounter !== tpm.pcr.updateCounter) fail(TPM_RC.PCR_CHANGED);
      if (pcrDigest.length !== 0 && !pcrDigest.equals(current)) fail(rcParam(TPM_RC.VALUE, 1));
    } else if (pcrDigest.length !== 0) {
      current = pcrDigest;
    }
    extendPolicy(s, TPM_CC.PolicyPCR, marshal(TPML_PCR_SELECTION, pcrs), current);
    if (!s.isTrial) s.policy.pcrCounter = tpm.pcr.updateCounter;
    return {};
  },
});

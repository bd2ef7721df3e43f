// TPM2_PolicyPhysicalPresence — Part 3 §23.12: the authorized command needs physical presence.
// policyDigest' = H(policyDigest || TPM_CC_PolicyPhysicalPresence).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyPhysicalPresence = defineCommand({
  name: 'PolicyPhysicalPresence',
  code: TPM_CC.PolicyPhysicalPresence,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  execute(tpm, { policySession: handle }) {
    const s = policySession(tpm, handle);
    extendPolicy(s, TPM_CC.PolicyPhysicalPresence);
    s.policy.isPPRequired = true;
    return {};
  },
});

// TPM2_PolicyPassword — Part 3 §23.18: the authorized entity's authValue is sent in the clear in
// the session's hmac field. The digest is the same as PolicyAuthValue's:
// policyDigest' = H(policyDigest || TPM_CC_PolicyAuthValue).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyPassword = defineCommand({
  name: 'PolicyPassword',
  code: TPM_CC.PolicyPassword,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  execute(tpm, { policySession: handle }) {
    const s = policySession(tpm, handle);
    extendPolicy(s, TPM_CC.PolicyAuthValue);
    s.policy.isPasswordNeeded = true;
    s.policy.isAuthValueNeeded = false;
    return {};
  },
});

// TPM2_PolicyAuthValue — Part 3 §23.17: the authorized entity's authValue joins the session's
// HMAC key when the session is used. policyDigest' = H(policyDigest || TPM_CC_PolicyAuthValue).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyAuthValue = defineCommand({
  name: 'PolicyAuthValue',
  code: TPM_CC.PolicyAuthValue,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  execute(tpm, { policySession: handle }) {
    const s = policySession(tpm, handle);
    extendPolicy(s, TPM_CC.PolicyAuthValue);
    s.policy.isAuthValueNeeded = true;
    s.policy.isPasswordNeeded = false;
    return {};
  },
});

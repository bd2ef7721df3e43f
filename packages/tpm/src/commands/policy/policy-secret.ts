// TPM2_PolicySecret — Part 3 §23.4: include in the policy proof of an entity's authValue (the
// pipeline has checked authHandle's USER authorization); the policy becomes
// PolicyUpdate(TPM_CC_PolicySecret, authName, policyRef), with optional expiration and ticket.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ST } from '../../wire/constants.js';
import { i32 } from '../../wire/codec.js';
import { TPM2B_DIGEST, TPM2B_NONCE, TPM2B_TIMEOUT, TPMI_DH_ENTITY, TPMI_SH_POLICY, TPMT_TK_AUTH } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { authTimeout, hierarchyOf, policyAuthOutputs, policyContextUpdate, policyParameterChecks, policySession } from '../../engine/policy.js';

export const PolicySecret = defineCommand({
  name: 'PolicySecret',
  code: TPM_CC.PolicySecret,
  handles: { authHandle: { codec: TPMI_DH_ENTITY, auth: 'USER' }, policySession: { codec: TPMI_SH_POLICY } },
  params: { nonceTPM: TPM2B_NONCE, cpHashA: TPM2B_DIGEST, policyRef: TPM2B_NONCE, expiration: i32 },
  response: { timeout: TPM2B_TIMEOUT, policyTicket: TPMT_TK_AUTH },
  execute(tpm, { authHandle, policySession: handle }, { nonceTPM, cpHashA, policyRef, expiration }) {
    const s = policySession(tpm, handle);
    let timeout = 0n;
    if (!s.isTrial) {
      timeout = authTimeout(tpm, s, expiration, nonceTPM);
      policyParameterChecks(tpm, s, timeout, cpHashA, nonceTPM, { nonce: 1, cpHash: 2, expiration: 4 });
    }
    const name = tpm.entities.name(authHandle);
    policyContextUpdate(s, TPM_CC.PolicySecret, name, policyRef, cpHashA, timeout);
    return policyAuthOutputs(tpm, s, TPM_ST.AUTH_SECRET, hierarchyOf(tpm, authHandle), expiration, nonceTPM, timeout, cpHashA, policyRef, name);
  },
});

// TPM2_PolicyTicket — Part 3 §23.5: stand in for a PolicySigned or PolicySecret whose ticket
// this TPM issued; the policy is updated as that command would have updated it.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_ST } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPM2B_NAME, TPM2B_NONCE, TPM2B_TIMEOUT, TPMI_SH_POLICY, TPMT_TK_AUTH } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { authTicketMatches, EXPIRATION_BIT, policyContextUpdate, policyParameterChecks, policySession } from '../../engine/policy.js';

export const PolicyTicket = defineCommand({
  name: 'PolicyTicket',
  code: TPM_CC.PolicyTicket,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { timeout: TPM2B_TIMEOUT, cpHashA: TPM2B_DIGEST, policyRef: TPM2B_NONCE, authName: TPM2B_NAME, ticket: TPMT_TK_AUTH },
  execute(tpm, { policySession: handle }, { timeout, cpHashA, policyRef, authName, ticket }) {
    const s = policySession(tpm, handle);
    if (s.isTrial) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    if (timeout.length !== 8) fail(rcParam(TPM_RC.SIZE, 1));
    const raw = timeout.readBigUInt64BE(0);
    const expiresOnReset = (raw & EXPIRATION_BIT) !== 0n;
    const authTimeout = raw & ~EXPIRATION_BIT;
    policyParameterChecks(tpm, s, authTimeout, cpHashA, null, { nonce: 0, cpHash: 2, expiration: 1 });
    if (!authTicketMatches(tpm, ticket, authTimeout, expiresOnReset, cpHashA, policyRef, authName)) fail(rcParam(TPM_RC.TICKET, 5));
    const code = ticket.tag === TPM_ST.AUTH_SIGNED ? TPM_CC.PolicySigned : TPM_CC.PolicySecret;
    policyContextUpdate(s, code, authName, policyRef, cpHashA, authTimeout);
    return {};
  },
});

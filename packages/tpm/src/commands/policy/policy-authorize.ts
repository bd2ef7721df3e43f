// TPM2_PolicyAuthorize — Part 3 §23.16: replace the session's digest by one a key holder approved:
// approvedPolicy must be the current digest and checkTicket must prove the TPM verified the key's
// signature over aHash = H(approvedPolicy || policyRef). The digest is then reset and becomes
// PolicyUpdate(TPM_CC_PolicyAuthorize, keySign, policyRef). A trial session skips the checks.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { HASH_DIGEST_SIZE, TPM2B_DIGEST, TPM2B_NAME, TPM2B_NONCE, TPMI_SH_POLICY, TPMT_TK_VERIFIED } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { nameAlgOf, policySession, policyUpdate } from '../../engine/policy.js';
import { ticketMatches } from '../../engine/tickets.js';

export const PolicyAuthorize = defineCommand({
  name: 'PolicyAuthorize',
  code: TPM_CC.PolicyAuthorize,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { approvedPolicy: TPM2B_DIGEST, policyRef: TPM2B_NONCE, keySign: TPM2B_NAME, checkTicket: TPMT_TK_VERIFIED },
  execute(tpm, { policySession: handle }, { approvedPolicy, policyRef, keySign, checkTicket }) {
    const s = policySession(tpm, handle);
    if (!s.isTrial) {
      const hashAlg = nameAlgOf(keySign);
      const size = HASH_DIGEST_SIZE[hashAlg];
      if (size === undefined) fail(rcParam(TPM_RC.HASH, 3));
      if (keySign.length !== 2 + size) fail(rcParam(TPM_RC.SIZE, 3));
      if (!approvedPolicy.equals(s.policy.digest)) fail(rcParam(TPM_RC.VALUE, 1));
      const aHash = digest(hashAlg, approvedPolicy, policyRef);
      if (!ticketMatches(tpm, checkTicket, aHash, keySign)) fail(rcParam(TPM_RC.VALUE, 4));
    }
    s.policy.digest = Buffer.alloc(s.policy.digest.length);
    policyUpdate(s, TPM_CC.PolicyAuthorize, keySign, policyRef);
    return {};
  },
});

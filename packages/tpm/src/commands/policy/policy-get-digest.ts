// TPM2_PolicyGetDigest — Part 3 §23.19: the session's current policyDigest.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_DIGEST, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { policySession } from '../../engine/policy.js';

export const PolicyGetDigest = defineCommand({
  name: 'PolicyGetDigest',
  code: TPM_CC.PolicyGetDigest,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  response: { policyDigest: TPM2B_DIGEST },
  execute(tpm, { policySession: handle }) {
    return { policyDigest: Buffer.from(policySession(tpm, handle).policy.digest) };
  },
});

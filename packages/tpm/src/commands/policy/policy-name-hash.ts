// TPM2_PolicyNameHash — Part 3 §23.14: the session authorizes only a command whose handles have
// these Names (nameHash = H(Name1 || Name2 || …)).
// policyDigest' = H(policyDigest || TPM_CC_PolicyNameHash || nameHash).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyNameHash = defineCommand({
  name: 'PolicyNameHash',
  code: TPM_CC.PolicyNameHash,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { nameHash: TPM2B_DIGEST },
  execute(tpm, { policySession: handle }, { nameHash }) {
    const s = policySession(tpm, handle);
    if (nameHash.length !== s.policy.digest.length) fail(rcParam(TPM_RC.SIZE, 1));
    if (s.policy.constraint) fail(TPM_RC.CPHASH);
    extendPolicy(s, TPM_CC.PolicyNameHash, nameHash);
    s.policy.constraint = { kind: 'nameHash', value: Buffer.from(nameHash) };
    return {};
  },
});

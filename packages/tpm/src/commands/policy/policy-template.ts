// TPM2_PolicyTemplate — Part 3 §23.21: the session authorizes only creating an object from a
// template with this digest. policyDigest' = H(policyDigest || TPM_CC_PolicyTemplate || templateHash).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyTemplate = defineCommand({
  name: 'PolicyTemplate',
  code: TPM_CC.PolicyTemplate,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { templateHash: TPM2B_DIGEST },
  execute(tpm, { policySession: handle }, { templateHash }) {
    const s = policySession(tpm, handle);
    const c = s.policy.constraint;
    if (c && (c.kind !== 'templateHash' || !c.value.equals(templateHash))) fail(rcParam(TPM_RC.VALUE, 1));
    if (templateHash.length !== s.policy.digest.length) fail(rcParam(TPM_RC.SIZE, 1));
    extendPolicy(s, TPM_CC.PolicyTemplate, templateHash);
    s.policy.constraint = { kind: 'templateHash', value: Buffer.from(templateHash) };
    return {};
  },
});

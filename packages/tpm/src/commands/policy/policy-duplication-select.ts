// TPM2_PolicyDuplicationSelect — Part 3 §23.15: the session authorizes only TPM2_Duplicate of
// this object (nameHash = H(objectName || newParentName)) to this new parent.
// policyDigest' = H(policyDigest || TPM_CC_PolicyDuplicationSelect || [objectName] || newParentName || includeObject).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { TPM2B_NAME, TPMI_SH_POLICY, TPMI_YES_NO } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyDuplicationSelect = defineCommand({
  name: 'PolicyDuplicationSelect',
  code: TPM_CC.PolicyDuplicationSelect,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { objectName: TPM2B_NAME, newParentName: TPM2B_NAME, includeObject: TPMI_YES_NO },
  execute(tpm, { policySession: handle }, { objectName, newParentName, includeObject }) {
    const s = policySession(tpm, handle);
    if (s.policy.constraint) fail(TPM_RC.CPHASH);
    if (s.policy.commandCode !== undefined && s.policy.commandCode !== TPM_CC.Duplicate) fail(TPM_RC.COMMAND_CODE);
    const parts = includeObject ? [objectName, newParentName] : [newParentName];
    extendPolicy(s, TPM_CC.PolicyDuplicationSelect, ...parts, Buffer.of(includeObject));
    s.policy.constraint = { kind: 'nameHash', value: digest(s.hashAlg, objectName, newParentName) };
    s.policy.commandCode = TPM_CC.Duplicate;
    return {};
  },
});

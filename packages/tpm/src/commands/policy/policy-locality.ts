// TPM2_PolicyLocality — Part 3 §23.8: limit the localities the authorized command may come from.
// Successive calls intersect (ordinary localities) or must agree (an extended locality).
// policyDigest' = H(policyDigest || TPM_CC_PolicyLocality || locality).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMA_LOCALITY, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession } from '../../engine/policy.js';

export const PolicyLocality = defineCommand({
  name: 'PolicyLocality',
  code: TPM_CC.PolicyLocality,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { locality: TPMA_LOCALITY },
  execute(tpm, { policySession: handle }, { locality }) {
    const s = policySession(tpm, handle);
    const bad = () => fail(rcParam(TPM_RC.RANGE, 1));
    if (locality === 0) bad();
    let setting = s.policy.locality;
    if (setting !== 0 && setting < 32 !== locality < 32) bad();
    if (locality < 32) {
      setting = (setting === 0 ? 0x1f : setting) & locality;
      if (setting === 0) bad();
    } else {
      if (setting !== 0 && setting !== locality) bad();
      setting = locality;
    }
    extendPolicy(s, TPM_CC.PolicyLocality, Buffer.of(locality));
    s.policy.locality = setting;
    return {};
  },
});

// TPM2_PolicyCommandCode — Part 3 §23.11: the session authorizes only `code`.
// policyDigest' = H(policyDigest || TPM_CC_PolicyCommandCode || code).
import { TPM_CC as CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM_CC, TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { extendPolicy, policySession, u32be } from '../../engine/policy.js';

export const PolicyCommandCode = defineCommand({
  name: 'PolicyCommandCode',
  code: CC.PolicyCommandCode,
  handles: { policySession: { codec: TPMI_SH_POLICY } },
  params: { code: TPM_CC },
  execute(tpm, { policySession: handle }, { code }) {
    const s = policySession(tpm, handle);
    if (s.policy.commandCode !== undefined && s.policy.commandCode !== code) fail(rcParam(TPM_RC.VALUE, 1));
    if (!tpm.commands.has(code)) fail(rcParam(TPM_RC.POLICY_CC, 1));
    extendPolicy(s, CC.PolicyCommandCode, u32be(code));
    s.policy.commandCode = code;
    return {};
  },
});

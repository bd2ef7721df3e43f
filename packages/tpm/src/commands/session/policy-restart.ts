// TPM2_PolicyRestart — Part 3 §11.2: return a policy session to its initial state (digest all
// zeros, no conditions) without changing its nonces or key.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMI_SH_POLICY } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const PolicyRestart = defineCommand({
  name: 'PolicyRestart',
  code: TPM_CC.PolicyRestart,
  handles: { sessionHandle: { codec: TPMI_SH_POLICY } },
  execute(tpm, { sessionHandle }) {
    tpm.sessions.get(sessionHandle).restartPolicy(tpm.clock.time());
    return {};
  },
});

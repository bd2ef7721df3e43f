// TPM2_SetPrimaryPolicy — Part 3 §24.4: the authPolicy of a hierarchy or lockout, as long as
// hashAlg's digest (an empty policy with TPM_ALG_NULL).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_ALG_HASH, TPMI_RH_HIERARCHY_POLICY } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';

export const SetPrimaryPolicy = defineCommand({
  name: 'SetPrimaryPolicy',
  code: TPM_CC.SetPrimaryPolicy,
  handles: { authHandle: { codec: TPMI_RH_HIERARCHY_POLICY, auth: 'USER' } },
  params: { authPolicy: TPM2B_DIGEST, hashAlg: TPMI_ALG_HASH.plus },
  execute(tpm, { authHandle }, { authPolicy, hashAlg }) {
    if (authPolicy.length !== digestSize(hashAlg)) fail(rcParam(TPM_RC.SIZE, 1));
    tpm.hierarchy.setPolicy(authHandle, authPolicy, hashAlg);
    return {};
  },
});

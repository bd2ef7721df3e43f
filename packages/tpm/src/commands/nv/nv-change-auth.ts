// TPM2_NV_ChangeAuth — Part 3 §31.15: a new authValue for the index (ADMIN role: a policy
// session). The response HMAC already uses the new value.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_AUTH, TPMI_RH_NV_INDEX } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { trimTrailingZeros } from '../../engine/sessions.js';

export const NV_ChangeAuth = defineCommand({
  name: 'NV_ChangeAuth',
  code: TPM_CC.NV_ChangeAuth,
  handles: { nvIndex: { codec: TPMI_RH_NV_INDEX, auth: 'ADMIN' } },
  params: { newAuth: TPM2B_AUTH },
  execute(tpm, { nvIndex }, { newAuth }) {
    const auth = trimTrailingZeros(newAuth);
    if (auth.length > digestSize(tpm.nv.get(nvIndex).public.nameAlg)) fail(rcParam(TPM_RC.SIZE, 1));
    tpm.nv.setAuthValue(nvIndex, auth);
    return {};
  },
});

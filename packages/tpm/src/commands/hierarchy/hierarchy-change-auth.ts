// TPM2_HierarchyChangeAuth — Part 3 §24.8: a new authValue for a hierarchy or lockout. The
// pipeline computes the response HMAC with the new value.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_AUTH, TPMI_RH_HIERARCHY_AUTH } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { trimTrailingZeros } from '../../engine/sessions.js';

export const HierarchyChangeAuth = defineCommand({
  name: 'HierarchyChangeAuth',
  code: TPM_CC.HierarchyChangeAuth,
  handles: { authHandle: { codec: TPMI_RH_HIERARCHY_AUTH, auth: 'USER' } },
  params: { newAuth: TPM2B_AUTH },
  execute(tpm, { authHandle }, { newAuth }) {
    tpm.hierarchy.setAuthValue(authHandle, trimTrailingZeros(newAuth));
    return {};
  },
});

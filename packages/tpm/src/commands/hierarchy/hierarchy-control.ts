// TPM2_HierarchyControl — Part 3 §24.5: enable or disable a hierarchy (or platform NV). Only
// the platform enables; the owner and endorsement hierarchies may disable themselves. Objects of
// a hierarchy just disabled are flushed.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMI_RH_ENABLES, TPMI_RH_HIERARCHY, TPMI_YES_NO } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const HierarchyControl = defineCommand({
  name: 'HierarchyControl',
  code: TPM_CC.HierarchyControl,
  handles: { authHandle: { codec: TPMI_RH_HIERARCHY, auth: 'USER' } },
  params: { enable: TPMI_RH_ENABLES, state: TPMI_YES_NO },
  execute(tpm, { authHandle }, { enable, state }) {
    const on = state === 1;
    const byPlatform = authHandle === TPM_RH.PLATFORM;
    if (enable === TPM_RH.PLATFORM || enable === TPM_RH.PLATFORM_NV) {
      if (!byPlatform) fail(TPM_RC.AUTH_TYPE);
    } else if (!byPlatform && (authHandle !== enable || on)) {
      fail(TPM_RC.AUTH_TYPE);
    }
    if (tpm.hierarchy.enable(enable) === on) return {};
    tpm.hierarchy.setEnabled(enable, on);
    if (!on && enable !== TPM_RH.PLATFORM_NV) tpm.objects.flushTransient((o) => o.hierarchy === enable);
    return {};
  },
});

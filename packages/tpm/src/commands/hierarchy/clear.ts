// TPM2_Clear — Part 3 §24.6: everything the owner had goes — owner and endorsement objects
// (loaded and persistent), NV indices not created by the platform, the storage seed, the owner,
// endorsement and lockout authorizations — and Clock, resetCount and restartCount start again.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMI_RH_CLEAR } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const Clear = defineCommand({
  name: 'Clear',
  code: TPM_CC.Clear,
  handles: { authHandle: { codec: TPMI_RH_CLEAR, auth: 'USER' } },
  execute(tpm, { authHandle }) {
    if (tpm.hierarchy.disableClear && authHandle === TPM_RH.LOCKOUT) fail(TPM_RC.DISABLED);
    const ownedByOwner = (o: { hierarchy: number }) => o.hierarchy === TPM_RH.OWNER || o.hierarchy === TPM_RH.ENDORSEMENT;
    tpm.objects.flushTransient(ownedByOwner);
    for (const h of tpm.objects.persistentHandles()) if (ownedByOwner(tpm.objects.get(h))) tpm.objects.evict(h);
    tpm.nv.clearOwnerIndices();
    tpm.hierarchy.clear();
    tpm.clock.onClear();
    tpm.pcr.updateCounter++;
    return {};
  },
});

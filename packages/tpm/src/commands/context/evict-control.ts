// TPM2_EvictControl — Part 3 §28.5: make a loaded object persistent at a handle in its
// authority's range (owner 0x81000000–0x817FFFFF, platform 0x81800000–0x81FFFFFF), or, given a
// persistent object, remove it. Temporary, stClear and public-only objects cannot persist.
import { TPM_CC } from '../../wire/command-codes.js';
import { PERSISTENT_FIRST, PERSISTENT_LAST, PLATFORM_PERSISTENT, TPM_HT, TPM_RC, TPM_RH } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPMA_OBJECT, TPMI_DH_OBJECT, TPMI_DH_PERSISTENT, TPMI_RH_PROVISION } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

const inOwnerRange = (h: number) => h >= PERSISTENT_FIRST && h < PLATFORM_PERSISTENT;
const inPlatformRange = (h: number) => h >= PLATFORM_PERSISTENT && h <= PERSISTENT_LAST;

export const EvictControl = defineCommand({
  name: 'EvictControl',
  code: TPM_CC.EvictControl,
  handles: { auth: { codec: TPMI_RH_PROVISION, auth: 'USER' }, objectHandle: { codec: TPMI_DH_OBJECT } },
  params: { persistentHandle: TPMI_DH_PERSISTENT },
  execute(tpm, { auth, objectHandle }, { persistentHandle }) {
    const obj = tpm.objects.get(objectHandle);
    const persistent = objectHandle >>> 24 === TPM_HT.PERSISTENT;
    const stClear = (obj.public.objectAttributes & TPMA_OBJECT.stClear) !== 0;
    if (obj.hierarchy === TPM_RH.NULL || obj.isExternal || stClear || !obj.sensitive) fail(rcHandle(TPM_RC.ATTRIBUTES, 2));
    if (persistent && objectHandle !== persistentHandle) fail(rcHandle(TPM_RC.HANDLE, 2));
    if (auth === TPM_RH.PLATFORM) {
      if (!persistent && obj.hierarchy !== TPM_RH.PLATFORM) fail(rcHandle(TPM_RC.HIERARCHY, 2));
      if (!persistent && !inPlatformRange(persistentHandle)) fail(rcParam(TPM_RC.RANGE, 1));
    } else {
      if (obj.hierarchy === TPM_RH.PLATFORM) fail(rcHandle(TPM_RC.HIERARCHY, 2));
      if (!persistent && !inOwnerRange(persistentHandle)) fail(rcParam(TPM_RC.RANGE, 1));
    }
    if (persistent) tpm.objects.evict(objectHandle);
    else tpm.objects.makePersistent(persistentHandle, { ...obj });
    return {};
  },
});

// TPM2_ContextLoad — Part 3 §28.3: reload a saved object (into a new transient handle) or a
// saved session (at its own handle, once). A blob that fails its integrity check, or was saved
// before a TPM Reset, is TPM_RC_INTEGRITY.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_HT, TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMI_DH_CONTEXT, TPMS_CONTEXT } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { openContext, restoreObject } from './context-blob.js';

export const ContextLoad = defineCommand({
  name: 'ContextLoad',
  code: TPM_CC.ContextLoad,
  params: { context: TPMS_CONTEXT },
  responseHandles: { loadedHandle: { codec: TPMI_DH_CONTEXT } },
  execute(tpm, _h, { context }) {
    const { sequence, savedHandle, hierarchy, contextBlob } = context;
    const body = openContext(tpm, { sequence, savedHandle, hierarchy }, contextBlob);
    if (savedHandle >>> 24 === TPM_HT.TRANSIENT) {
      if (!tpm.hierarchy.isEnabled(hierarchy)) fail(rcParam(TPM_RC.HIERARCHY, 1));
      return { loadedHandle: tpm.objects.load(restoreObject(body)) };
    }
    if (!tpm.sessions.restore(savedHandle, sequence)) fail(rcParam(TPM_RC.HANDLE, 1));
    return { loadedHandle: savedHandle };
  },
});

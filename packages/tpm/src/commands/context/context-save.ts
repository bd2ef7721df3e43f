// TPM2_ContextSave — Part 3 §28.2: save a loaded object (which stays loaded) or a session
// (which leaves the session table, its handle kept for one ContextLoad) as a protected blob.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_HT, TPM_RH } from '../../wire/constants.js';
import { TPMA_OBJECT, TPMI_DH_CONTEXT, TPMS_CONTEXT } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { nextSequence, saveObject, SAVED_OBJECT, SAVED_STCLEAR_OBJECT, sealContext } from './context-blob.js';

export const ContextSave = defineCommand({
  name: 'ContextSave',
  code: TPM_CC.ContextSave,
  handles: { saveHandle: { codec: TPMI_DH_CONTEXT } },
  response: { context: TPMS_CONTEXT },
  execute(tpm, { saveHandle }) {
    const sequence = nextSequence(tpm);
    if (saveHandle >>> 24 === TPM_HT.TRANSIENT) {
      const obj = tpm.objects.get(saveHandle);
      const stClear = (obj.public.objectAttributes & TPMA_OBJECT.stClear) !== 0;
      const header = { sequence, savedHandle: stClear ? SAVED_STCLEAR_OBJECT : SAVED_OBJECT, hierarchy: obj.hierarchy };
      return { context: { ...header, contextBlob: sealContext(tpm, header, saveObject(obj)) } };
    }
    const header = { sequence, savedHandle: saveHandle, hierarchy: TPM_RH.NULL };
    const contextBlob = sealContext(tpm, header, Buffer.alloc(0));
    tpm.sessions.save(saveHandle, sequence);
    return { context: { ...header, contextBlob } };
  },
});

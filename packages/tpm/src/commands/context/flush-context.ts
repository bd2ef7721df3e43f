// TPM2_FlushContext — Part 3 §28.4: remove a loaded transient object, or a loaded or saved
// session. The handle is a parameter, not a handle needing authorization.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_HT, TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMI_DH_CONTEXT } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const FlushContext = defineCommand({
  name: 'FlushContext',
  code: TPM_CC.FlushContext,
  params: { flushHandle: TPMI_DH_CONTEXT },
  execute(tpm, _h, { flushHandle }) {
    if (tpm.entities.exists(flushHandle)) {
      if (flushHandle >>> 24 === TPM_HT.TRANSIENT) tpm.objects.flush(flushHandle);
      else tpm.sessions.flush(flushHandle);
    } else if (flushHandle >>> 24 !== TPM_HT.TRANSIENT && tpm.sessions.isSaved(flushHandle)) {
      tpm.sessions.flushSaved(flushHandle);
    } else {
      fail(rcParam(TPM_RC.HANDLE, 1));
    }
    return {};
  },
});

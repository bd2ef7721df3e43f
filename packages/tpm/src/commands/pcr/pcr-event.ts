// TPM2_PCR_Event — Part 3 §22.3: the TPM hashes the event data in every bank and extends.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMI_DH_PCR, TPM2B_EVENT, TPML_DIGEST_VALUES } from '../../wire/types/index.js';
import { digest } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';

export const PCR_Event = defineCommand({
  name: 'PCR_Event',
  code: TPM_CC.PCR_Event,
  handles: { pcrHandle: { codec: TPMI_DH_PCR.plus, auth: 'USER' } },
  params: { eventData: TPM2B_EVENT },
  response: { digests: TPML_DIGEST_VALUES },
  execute(tpm, { pcrHandle }, { eventData }, { locality }) {
    if (pcrHandle === TPM_RH.NULL) {
      return { digests: tpm.pcr.algorithms().map((hashAlg) => ({ hashAlg, digest: digest(hashAlg, eventData) })) };
    }
    if (!tpm.pcr.canExtend(pcrHandle, locality)) fail(TPM_RC.LOCALITY);
    return { digests: tpm.pcr.extendEvent(pcrHandle, eventData) };
  },
});

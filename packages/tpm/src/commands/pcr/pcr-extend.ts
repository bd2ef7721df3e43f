// TPM2_PCR_Extend — Part 3 §22.2
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC, TPM_RH } from '../../wire/constants.js';
import { TPMI_DH_PCR, TPML_DIGEST_VALUES } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

export const PCR_Extend = defineCommand({
  name: 'PCR_Extend',
  code: TPM_CC.PCR_Extend,
  handles: { pcrHandle: { codec: TPMI_DH_PCR.plus, auth: 'USER' } },
  params: { digests: TPML_DIGEST_VALUES },
  execute(tpm, { pcrHandle }, { digests }, { locality }) {
    if (pcrHandle === TPM_RH.NULL) return {};
    if (!tpm.pcr.canExtend(pcrHandle, locality)) fail(TPM_RC.LOCALITY);
    for (const d of digests) if (d.digest) tpm.pcr.extend(pcrHandle, d.hashAlg, d.digest);
    return {};
  },
});

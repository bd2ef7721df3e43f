// TPM2_VerifySignature — Part 3 §20.1: check a signature over a digest with a loaded key and,
// when the key is in a hierarchy, return a ticket saying the TPM verified it (for PolicySigned
// and PolicyAuthorize).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMA_OBJECT, TPM_ALG, TPM_RC, TPM_RH, TPM_ST } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_DH_OBJECT, TPMT_SIGNATURE, TPMT_TK_VERIFIED } from '../../wire/types/index.js';
import { TpmFault, defineCommand, fail } from '../../engine/command.js';
import { checkSignature } from '../../engine/signatures.js';
import { verifiedTicket } from '../../engine/tickets.js';

export const VerifySignature = defineCommand({
  name: 'VerifySignature',
  code: TPM_CC.VerifySignature,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT } },
  params: { digest: TPM2B_DIGEST, signature: TPMT_SIGNATURE },
  response: { validation: TPMT_TK_VERIFIED },
  execute(tpm, { keyHandle }, { digest, signature }) {
    const key = tpm.objects.get(keyHandle);
    if ((key.public.objectAttributes & TPMA_OBJECT.sign) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    try {
      checkSignature(key, digest, signature);
    } catch (e) {
      if (e instanceof TpmFault) fail(rcParam(e.rc, 2));
      throw e;
    }
    const validation =
      key.hierarchy === TPM_RH.NULL || key.public.nameAlg === TPM_ALG.NULL
        ? { tag: TPM_ST.VERIFIED, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) }
        : verifiedTicket(tpm, key.hierarchy, digest, key.name);
    return { validation };
  },
});

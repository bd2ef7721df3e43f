// TPM2_Sign — Part 3 §20.2: sign a digest the caller computed. A restricted key signs only a
// digest the TPM hashed itself from data that did not start with TPM_GENERATED_VALUE, shown by
// a TPM2_Hash ticket; any ticket given is checked, and without one the digest must be the size
// of the scheme's hash.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMA_OBJECT, TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPMI_DH_OBJECT, TPMT_SIG_SCHEME, TPMT_SIGNATURE, TPMT_TK_HASHCHECK } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { isSigningKey, selectSignScheme, signDigest } from '../../engine/signatures.js';
import { ticketMatches } from '../../engine/tickets.js';

export const Sign = defineCommand({
  name: 'Sign',
  code: TPM_CC.Sign,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { digest: TPM2B_DIGEST, inScheme: TPMT_SIG_SCHEME.plus, validation: TPMT_TK_HASHCHECK },
  response: { signature: TPMT_SIGNATURE },
  execute(tpm, { keyHandle }, { digest, inScheme, validation }) {
    const key = tpm.objects.get(keyHandle);
    if (!isSigningKey(key)) fail(rcHandle(TPM_RC.KEY, 1));
    const scheme = selectSignScheme(key, inScheme) ?? fail(rcParam(TPM_RC.SCHEME, 2));
    const hashAlg = scheme.details?.hashAlg ?? TPM_ALG.NULL;
    const restricted = (key.public.objectAttributes & TPMA_OBJECT.restricted) !== 0;
    if (validation.digest.length !== 0 || restricted) {
      if (!ticketMatches(tpm, validation, digest)) fail(rcParam(TPM_RC.TICKET, 3));
    } else if (digest.length !== digestSize(hashAlg)) {
      fail(rcParam(TPM_RC.SIZE, 1));
    }
    return { signature: signDigest(key, scheme, digest) };
  },
});

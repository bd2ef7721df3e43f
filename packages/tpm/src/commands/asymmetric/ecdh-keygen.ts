// TPM2_ECDH_KeyGen — Part 3 §14.4: a fresh ephemeral key pair on the key's curve, and Z = the
// ephemeral private scalar times the key's public point. Only the public point is used, so any
// loaded ECC key will do, without authorization.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPM2B_ECC_POINT, TPMI_DH_OBJECT, type TPMS_ECC_PARMS, type TPMS_ECC_POINT } from '../../wire/types/index.js';
import { ephemeralEcdh, isPointOnCurve } from '../../crypto/ecc.js';
import { defineCommand, fail } from '../../engine/command.js';

export const ECDH_KeyGen = defineCommand({
  name: 'ECDH_KeyGen',
  code: TPM_CC.ECDH_KeyGen,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT } },
  response: { zPoint: TPM2B_ECC_POINT, pubPoint: TPM2B_ECC_POINT },
  execute(tpm, { keyHandle }) {
    const key = tpm.objects.get(keyHandle);
    if (key.public.type !== TPM_ALG.ECC) fail(rcHandle(TPM_RC.KEY, 1));
    const { curveID } = key.public.parameters as TPMS_ECC_PARMS;
    const publicPoint = key.public.unique as TPMS_ECC_POINT;
    // A public point off the curve makes the key itself bad.
    if (!isPointOnCurve(curveID, publicPoint)) fail(rcHandle(TPM_RC.KEY, 1));
    const { ephemeral, shared } = ephemeralEcdh(curveID, publicPoint);
    return { zPoint: shared, pubPoint: ephemeral };
  },
});

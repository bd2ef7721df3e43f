// TPM2_ECDH_ZGen — Part 3 §14.5: Z = the key's private scalar times a point the caller sends
// (the second half of one-pass ECDH). The point must lie on the key's curve (TPM_RC_ECC_POINT).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPM2B_ECC_POINT, TPMI_DH_OBJECT, type TPMS_ECC_PARMS } from '../../wire/types/index.js';
import { ecdhSharedPoint } from '../../crypto/ecc.js';
import { defineCommand, fail } from '../../engine/command.js';
import { eccPrivateScalarOf } from './key-material.js';
import { crypto } from './crypto-rc.js';

export const ECDH_ZGen = defineCommand({
  name: 'ECDH_ZGen',
  code: TPM_CC.ECDH_ZGen,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { inPoint: TPM2B_ECC_POINT },
  response: { outPoint: TPM2B_ECC_POINT },
  execute(tpm, { keyHandle }, { inPoint }) {
    const key = tpm.objects.get(keyHandle);
    if (key.public.type !== TPM_ALG.ECC || !key.sensitive) fail(rcHandle(TPM_RC.KEY, 1));
    const attrs = key.public.objectAttributes;
    if ((attrs & TPMA_OBJECT.restricted) !== 0 || (attrs & TPMA_OBJECT.decrypt) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    const { curveID, scheme } = key.public.parameters as TPMS_ECC_PARMS;
    if (scheme.scheme !== TPM_ALG.ECDH && scheme.scheme !== TPM_ALG.NULL) fail(rcHandle(TPM_RC.SCHEME, 1));
    const outPoint = crypto({ param: 1 }, () => ecdhSharedPoint(curveID, eccPrivateScalarOf(key), inPoint));
    return { outPoint };
  },
});

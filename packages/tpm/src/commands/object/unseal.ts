// TPM2_Unseal — Part 3 §12.7: the data of a sealed-data object (KEYEDHASH with sign, decrypt
// and restricted all clear).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPM2B_SENSITIVE_DATA, TPMA_OBJECT, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';
import { symmetricKeyOf } from '../../engine/key-material.js';

const NOT_SEALED = TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt | TPMA_OBJECT.sign;

export const Unseal = defineCommand({
  name: 'Unseal',
  code: TPM_CC.Unseal,
  handles: { itemHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  response: { outData: TPM2B_SENSITIVE_DATA },
  execute(tpm, { itemHandle }) {
    const obj = tpm.objects.get(itemHandle);
    if (obj.public.type !== TPM_ALG.KEYEDHASH) fail(rcHandle(TPM_RC.TYPE, 1));
    if ((obj.public.objectAttributes & NOT_SEALED) !== 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    return { outData: symmetricKeyOf(obj) };
  },
});

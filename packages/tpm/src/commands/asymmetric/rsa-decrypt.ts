// TPM2_RSA_Decrypt — Part 3 §14.3: decrypt with an unrestricted RSA decrypt key and remove the
// padding. Every padding failure is the same TPM_RC_VALUE, whatever check failed.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DATA, TPM2B_PUBLIC_KEY_RSA, TPMI_DH_OBJECT, TPMT_RSA_DECRYPT } from '../../wire/types/index.js';
import { isLabelProperlyFormatted, rsaDecrypt } from '../../crypto/rsa.js';
import { defineCommand, fail } from '../../engine/command.js';
import { privateKeyOf } from '../../engine/key-material.js';
import { crypto } from './crypto-rc.js';
import { selectRsaScheme } from './rsa-scheme.js';

export const RSA_Decrypt = defineCommand({
  name: 'RSA_Decrypt',
  code: TPM_CC.RSA_Decrypt,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { cipherText: TPM2B_PUBLIC_KEY_RSA, inScheme: TPMT_RSA_DECRYPT.plus, label: TPM2B_DATA },
  response: { message: TPM2B_PUBLIC_KEY_RSA },
  execute(tpm, { keyHandle }, { cipherText, inScheme, label }) {
    const key = tpm.objects.get(keyHandle);
    if (key.public.type !== TPM_ALG.RSA || !key.sensitive) fail(rcHandle(TPM_RC.KEY, 1));
    const attrs = key.public.objectAttributes;
    if ((attrs & TPMA_OBJECT.restricted) !== 0 || (attrs & TPMA_OBJECT.decrypt) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    if (!isLabelProperlyFormatted(label)) fail(rcParam(TPM_RC.VALUE, 3));
    const scheme = selectRsaScheme(key.public, inScheme) ?? fail(rcParam(TPM_RC.SCHEME, 2));
    const message = crypto('bare', () => rsaDecrypt(privateKeyOf(key), scheme, label, cipherText));
    return { message };
  },
});

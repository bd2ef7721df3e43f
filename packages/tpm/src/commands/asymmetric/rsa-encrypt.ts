// TPM2_RSA_Encrypt — Part 3 §14.2: pad and encrypt with the public half of an RSA decrypt key.
// Needs no authorization; a public-only key (LoadExternal) will do.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DATA, TPM2B_PUBLIC_KEY_RSA, TPMI_DH_OBJECT, TPMT_RSA_DECRYPT } from '../../wire/types/index.js';
import { isLabelProperlyFormatted, rsaEncrypt } from '../../crypto/rsa.js';
import { defineCommand, fail } from '../../engine/command.js';
import { publicKeyOf } from '../../engine/key-material.js';
import { crypto } from './crypto-rc.js';
import { selectRsaScheme } from './rsa-scheme.js';

/** Raw RSA takes a number: leading zero bytes beyond the modulus size do not count (reference CryptRsaEncrypt). */
function withoutLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

export const RSA_Encrypt = defineCommand({
  name: 'RSA_Encrypt',
  code: TPM_CC.RSA_Encrypt,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT } },
  params: { message: TPM2B_PUBLIC_KEY_RSA, inScheme: TPMT_RSA_DECRYPT.plus, label: TPM2B_DATA },
  response: { outData: TPM2B_PUBLIC_KEY_RSA },
  execute(tpm, { keyHandle }, { message, inScheme, label }) {
    const key = tpm.objects.get(keyHandle);
    if (key.public.type !== TPM_ALG.RSA) fail(rcHandle(TPM_RC.KEY, 1));
    if ((key.public.objectAttributes & TPMA_OBJECT.decrypt) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
    if (!isLabelProperlyFormatted(label)) fail(rcParam(TPM_RC.VALUE, 3));
    const scheme = selectRsaScheme(key.public, inScheme) ?? fail(rcParam(TPM_RC.SCHEME, 2));
    const data = scheme.scheme === TPM_ALG.NULL ? withoutLeadingZeros(message) : message;
    const outData = crypto('bare', () => rsaEncrypt(publicKeyOf(key), scheme, label, data));
    return { outData };
  },
});

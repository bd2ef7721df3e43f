// TPM2_EncryptDecrypt2 — Part 3 §15.3: TPM2_EncryptDecrypt with inData first, so a session can
// encrypt it.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_IV, TPM2B_MAX_BUFFER, TPMI_ALG_CIPHER_MODE, TPMI_DH_OBJECT, TPMI_YES_NO } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { encryptDecrypt } from './symmetric-cipher.js';

export const EncryptDecrypt2 = defineCommand({
  name: 'EncryptDecrypt2',
  code: TPM_CC.EncryptDecrypt2,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { inData: TPM2B_MAX_BUFFER, decrypt: TPMI_YES_NO, mode: TPMI_ALG_CIPHER_MODE.plus, ivIn: TPM2B_IV },
  response: { outData: TPM2B_MAX_BUFFER, ivOut: TPM2B_IV },
  execute(tpm, { keyHandle }, p) {
    return encryptDecrypt(tpm, { keyHandle, ...p }, { mode: 3, ivIn: 4, inData: 1 });
  },
});

// TPM2_EncryptDecrypt — Part 3 §15.2: symmetric encryption or decryption with a SYMCIPHER key.
// Its first parameter is not a TPM2B, so inData cannot be session-encrypted; EncryptDecrypt2
// exists for that.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM2B_IV, TPM2B_MAX_BUFFER, TPMI_ALG_CIPHER_MODE, TPMI_DH_OBJECT, TPMI_YES_NO } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';
import { encryptDecrypt } from './symmetric-cipher.js';

export const EncryptDecrypt = defineCommand({
  name: 'EncryptDecrypt',
  code: TPM_CC.EncryptDecrypt,
  handles: { keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { decrypt: TPMI_YES_NO, mode: TPMI_ALG_CIPHER_MODE.plus, ivIn: TPM2B_IV, inData: TPM2B_MAX_BUFFER },
  response: { outData: TPM2B_MAX_BUFFER, ivOut: TPM2B_IV },
  execute(tpm, { keyHandle }, p) {
    return encryptDecrypt(tpm, { keyHandle, ...p }, { mode: 2, ivIn: 3, inData: 4 });
  },
});

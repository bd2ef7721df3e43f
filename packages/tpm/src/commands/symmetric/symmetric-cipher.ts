// The action shared by TPM2_EncryptDecrypt and TPM2_EncryptDecrypt2 (Part 3 §15.2, §15.3;
// reference EncryptDecryptShared): which key and mode may be used, the IV and block-size
// rules, then the cipher. The two commands differ only in parameter order, so each passes the
// numbers of its own mode, ivIn and inData parameters for the response codes.

import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import type { TPMS_SYMCIPHER_PARMS } from '../../wire/types/index.js';
import { symmetricBlockSize, symmetricDecrypt, symmetricEncrypt } from '../../crypto/symmetric.js';
import { fail } from '../../engine/command.js';
import { symmetricKeyOf } from '../../engine/key-material.js';
import type { Tpm } from '../../engine/tpm.js';

export interface CipherRequest {
  keyHandle: number;
  decrypt: number;
  mode: number;
  ivIn: Buffer;
  inData: Buffer;
}

/** Parameter numbers of mode, ivIn and inData in the calling command. */
export interface CipherParamNumbers {
  mode: number;
  ivIn: number;
  inData: number;
}

export function encryptDecrypt(tpm: Tpm, req: CipherRequest, at: CipherParamNumbers): { outData: Buffer; ivOut: Buffer } {
  const key = tpm.objects.get(req.keyHandle);
  if (key.public.type !== TPM_ALG.SYMCIPHER || !key.sensitive) fail(rcHandle(TPM_RC.KEY, 1));
  // Encryption is the symmetric key's "sign" use (Part 2 §8.3.3.1); neither use of a restricted key.
  const attrs = key.public.objectAttributes;
  const use = req.decrypt ? TPMA_OBJECT.decrypt : TPMA_OBJECT.sign;
  if ((attrs & TPMA_OBJECT.restricted) !== 0 || (attrs & use) === 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));

  const { sym } = key.public.parameters as TPMS_SYMCIPHER_PARMS;
  const keyMode = sym.mode ?? TPM_ALG.NULL;
  let mode: number;
  if (keyMode !== TPM_ALG.NULL) {
    if (req.mode !== TPM_ALG.NULL && req.mode !== keyMode) fail(rcParam(TPM_RC.MODE, at.mode));
    mode = keyMode;
  } else {
    if (req.mode === TPM_ALG.NULL) fail(rcParam(TPM_RC.MODE, at.mode));
    mode = req.mode;
  }

  const blockSize = symmetricBlockSize(sym.algorithm);
  if (blockSize === 0) fail(rcHandle(TPM_RC.KEY, 1));
  if (req.ivIn.length !== (mode === TPM_ALG.ECB ? 0 : blockSize)) fail(rcParam(TPM_RC.SIZE, at.ivIn));
  if ((mode === TPM_ALG.CBC || mode === TPM_ALG.ECB) && req.inData.length % blockSize !== 0) fail(rcParam(TPM_RC.SIZE, at.inData));

  const cipher = req.decrypt ? symmetricDecrypt : symmetricEncrypt;
  const { output, ivOut } = cipher(sym.algorithm, symmetricKeyOf(key), mode, req.ivIn, req.inData);
  return { outData: output, ivOut };
}

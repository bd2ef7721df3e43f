// TPM2_HMAC_Start — Part 3 §17.2: start an HMAC sequence with an unrestricted KEYEDHASH signing
// key, under the same key and hash rules as TPM2_HMAC.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPM2B_AUTH, TPMI_ALG_HASH, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { HmacSequence } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { symmetricKeyOf } from '../../engine/key-material.js';
import { checkHmacKey, hmacHashFor } from '../symmetric/hmac.js';
import { startSequence } from './sequence-object.js';

export const HMAC_Start = defineCommand({
  name: 'HMAC_Start',
  code: TPM_CC.HMAC_Start,
  handles: { handle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { auth: TPM2B_AUTH, hashAlg: TPMI_ALG_HASH.plus },
  responseHandles: { sequenceHandle: { codec: TPMI_DH_OBJECT } },
  execute(tpm, { handle }, { auth, hashAlg }) {
    const key = tpm.objects.get(handle);
    checkHmacKey(key);
    const alg = hmacHashFor(key, hashAlg);
    if (alg === TPM_ALG.NULL) fail(rcParam(TPM_RC.VALUE, 2));
    const sequenceHandle = startSequence(tpm, auth, { kind: 'hmac', digests: [new HmacSequence(alg, symmetricKeyOf(key))] });
    return { sequenceHandle };
  },
});

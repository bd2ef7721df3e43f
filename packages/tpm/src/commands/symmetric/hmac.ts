// TPM2_HMAC — Part 3 §15.5: HMAC of a buffer with an unrestricted KEYEDHASH signing key. The
// key's own HMAC hash wins; the caller's hashAlg must then be TPM_ALG_NULL or the same.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_ALG, TPM_RC, TPMA_OBJECT } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPM2B_MAX_BUFFER, TPMI_ALG_HASH, TPMI_DH_OBJECT, type TPMS_KEYEDHASH_PARMS } from '../../wire/types/index.js';
import { hmac } from '../../crypto/hash.js';
import { defineCommand, fail } from '../../engine/command.js';
import { symmetricKeyOf } from '../../engine/key-material.js';
import type { TpmObject } from '../../engine/objects.js';

/** The hash for an HMAC with `key` (reference TPM2_HMAC / HMAC_Start), TPM_ALG_NULL when none fits. */
export function hmacHashFor(key: TpmObject, requested: number): number {
  const { scheme } = key.public.parameters as TPMS_KEYEDHASH_PARMS;
  if (scheme.scheme === TPM_ALG.NULL) return requested;
  const own = (scheme.details as { hashAlg: number }).hashAlg;
  return requested === TPM_ALG.NULL || requested === own ? own : TPM_ALG.NULL;
}

/** The checks TPM2_HMAC and TPM2_HMAC_Start make on the key (handle 1) before choosing the hash. */
export function checkHmacKey(key: TpmObject): void {
  if (key.public.type !== TPM_ALG.KEYEDHASH || !key.sensitive) fail(rcHandle(TPM_RC.TYPE, 1));
  if ((key.public.objectAttributes & TPMA_OBJECT.restricted) !== 0) fail(rcHandle(TPM_RC.ATTRIBUTES, 1));
  if ((key.public.objectAttributes & TPMA_OBJECT.sign) === 0) fail(rcHandle(TPM_RC.KEY, 1));
}

export const HMAC = defineCommand({
  name: 'HMAC',
  code: TPM_CC.HMAC,
  handles: { handle: { codec: TPMI_DH_OBJECT, auth: 'USER' } },
  params: { buffer: TPM2B_MAX_BUFFER, hashAlg: TPMI_ALG_HASH.plus },
  response: { outHMAC: TPM2B_DIGEST },
  execute(tpm, { handle }, { buffer, hashAlg }) {
    const key = tpm.objects.get(handle);
    checkHmacKey(key);
    const alg = hmacHashFor(key, hashAlg);
    if (alg === TPM_ALG.NULL) fail(rcParam(TPM_RC.VALUE, 2));
    return { outHMAC: hmac(alg, symmetricKeyOf(key), buffer) };
  },
});

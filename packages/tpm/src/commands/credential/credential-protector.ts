// What TPM2_MakeCredential and TPM2_ActivateCredential share (Part 1 §24.4): the protector must
// be an asymmetric, restricted decryption key (it has the symmetric definition that protects
// the credential), and the outer wrapper is keyed by its nameAlg and symmetric definition, the
// "IDENTITY" seed and the Name of the object the credential is for.
import { TPM_ALG, TPMA_OBJECT } from '../../wire/constants.js';
import type { OuterProtection } from '../../crypto/protection.js';
import { isAsymmetric, storageSymmetric } from '../../engine/object-checks.js';
import type { TpmObject } from '../../engine/objects.js';

export function canProtectCredentials(obj: TpmObject): boolean {
  const need = TPMA_OBJECT.decrypt | TPMA_OBJECT.restricted;
  return isAsymmetric(obj.public.type) && (obj.public.objectAttributes & need) === need;
}

export function credentialProtection(protector: TpmObject, seed: Buffer, objectName: Buffer): OuterProtection {
  const sym = storageSymmetric(protector.public);
  return {
    hashAlg: protector.public.nameAlg,
    seed,
    symAlg: sym?.algorithm ?? TPM_ALG.NULL,
    symKeyBits: sym?.keyBits as number,
    name: objectName,
  };
}

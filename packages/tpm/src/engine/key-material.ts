// The node KeyObjects behind a loaded object, made from its public and sensitive areas on first
// use and kept beside the object (never in it) for as long as the object lives. Commands reach
// key material only through these accessors.

import type { KeyObject } from 'node:crypto';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { rsaKeyPairFromPrime, rsaPublicKeyObject } from '../crypto/rsa-keygen.js';
import { eccKeyPairFromPrivate, eccPublicKeyObject, type EccPoint } from '../crypto/ecc.js';
import { fail } from './command.js';
import { blameParam } from './keys.js';
import { isAsymmetric } from './object-checks.js';
import type { TpmObject } from './objects.js';

interface RsaParms {
  exponent: number;
}
interface EccParms {
  curveID: number;
}

const keyObjects = new WeakMap<TpmObject, { privateKey?: KeyObject; publicKey?: KeyObject }>();

/** Keep the key pair an object was just created with, so its first use needs no rebuilding. */
export function rememberKeyPair(obj: TpmObject, pair: { privateKey: KeyObject; publicKey: KeyObject }): void {
  keyObjects.set(obj, { privateKey: pair.privateKey, publicKey: pair.publicKey });
}

/** The node private key of an RSA or ECC object with its sensitive area; otherwise TPM_RC_KEY. */
export function privateKeyOf(obj: TpmObject): KeyObject {
  const cached = keyObjects.get(obj);
  if (cached?.privateKey) return cached.privateKey;
  const s = obj.sensitive;
  if (!s || !isAsymmetric(obj.public.type)) return fail(TPM_RC.KEY);
  const pair =
    obj.public.type === TPM_ALG.RSA
      ? rsaKeyPairFromPrime(obj.public.unique as Buffer, (obj.public.parameters as RsaParms).exponent, s.sensitive as Buffer)
      : eccKeyPairFromPrivate((obj.public.parameters as EccParms).curveID, s.sensitive as Buffer);
  keyObjects.set(obj, { privateKey: pair.privateKey, publicKey: pair.publicKey });
  return pair.privateKey;
}

/** The node public key of an RSA or ECC object; otherwise TPM_RC_KEY. */
export function publicKeyOf(obj: TpmObject): KeyObject {
  const cached = keyObjects.get(obj);
  if (cached?.publicKey) return cached.publicKey;
  const pub = obj.public;
  let key: KeyObject;
  if (pub.type === TPM_ALG.RSA) key = rsaPublicKeyObject(pub.unique as Buffer, (pub.parameters as RsaParms).exponent);
  else if (pub.type === TPM_ALG.ECC) key = blameParam(1, () => eccPublicKeyObject((pub.parameters as EccParms).curveID, pub.unique as EccPoint));
  else return fail(TPM_RC.KEY);
  keyObjects.set(obj, { ...cached, publicKey: key });
  return key;
}

/** The key of a SYMCIPHER object or the HMAC key / sealed data of a KEYEDHASH object. */
export function symmetricKeyOf(obj: TpmObject): Buffer {
  const t = obj.public.type;
  if (!obj.sensitive || (t !== TPM_ALG.SYMCIPHER && t !== TPM_ALG.KEYEDHASH)) return fail(TPM_RC.KEY);
  return obj.sensitive.sensitive as Buffer;
}

/** The seedValue a storage parent protects its children with (Part 1 §22.4). */
export function storageSeedOf(obj: TpmObject): Buffer {
  const seed = obj.sensitive?.seedValue;
  if (!seed || seed.length === 0) return fail(TPM_RC.KEY);
  return seed;
}

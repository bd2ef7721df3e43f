// New asymmetric key pairs that are safe to use as any other KeyObject. Node 20 can deadlock when
// a KeyObject made by generateKeyPairSync is exported as JWK while a garbage collection finalises
// the generation job: both lock the same key's mutex on one thread (seen hanging a test run; a
// loop of P-256 generations and JWK exports under GC pressure hangs within seconds). A pair
// re-imported from its DER encoding shares nothing with the job, so every pair here is made so.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export type KeyPairType = 'rsa' | 'ec' | 'ed25519';

export interface KeyPairOptions {
  /** RSA: the modulus length in bits. */
  modulusLength?: number;
  /** RSA: the public exponent (default 65537). */
  publicExponent?: number;
  /** EC: the curve, e.g. 'P-256'. */
  namedCurve?: string;
}

export function newKeyPair(type: KeyPairType, options: KeyPairOptions = {}): { privateKey: KeyObject; publicKey: KeyObject } {
  const der = generateKeyPairSync(type as 'rsa', {
    ...(options as { modulusLength: number }),
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  return {
    privateKey: createPrivateKey({ key: der.privateKey, format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: der.publicKey, format: 'der', type: 'spki' }),
  };
}

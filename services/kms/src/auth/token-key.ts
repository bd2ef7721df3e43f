// The service's token-signing key: the ES256 key that signs delegation tokens (token exchange,
// features/tokens) and every block session's opening (features/blocks/release.ts), public at
// GET /v1/service-key. It is derived from the service's 32-byte root secret, so every API node that
// unsealed the same root signs and verifies with the same key, and nothing about it is stored:
//
//   okm = HKDF-SHA-256(ikm = root, salt = none, info = TOKEN_KEY_INFO, 48 bytes)
//   d   = (okm mod (n − 1)) + 1                 a P-256 scalar in [1, n − 1]; the 128 extra bits
//                                                make the bias negligible (FIPS 186-5 A.4.1 style)
//   Q   = d·G                                   via createECDH('prime256v1')
//   kid = RFC 7638 thumbprint of Q's JWK

import { createECDH, createPrivateKey, createPublicKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { jwkThumbprint, publicJwk } from '@sealkeep/crypto';

/** Names this derivation; a different purpose of the same root uses a different string. */
export const TOKEN_KEY_INFO = 'sealkeep/v1/delegation-token-signing-key/es256';
export const ROOT_SECRET_BYTES = 32;

/** The order of the P-256 group. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export interface TokenKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 thumbprint of the public key; delegation tokens name it in their `kid`. */
  kid: string;
}

function scalarFrom(okm: Buffer): Buffer {
  const d = (BigInt(`0x${okm.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  return Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
}

/** The token key of a service whose root secret is `root` (the same root gives the same key). */
export function deriveTokenKey(root: Buffer): TokenKey {
  if (root.length !== ROOT_SECRET_BYTES) throw new Error(`the root secret must be ${ROOT_SECRET_BYTES} bytes`);
  const okm = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), TOKEN_KEY_INFO, 48));
  const d = scalarFrom(okm);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  const privateKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
      d: d.toString('base64url'),
    },
    format: 'jwk',
  });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, kid: jwkThumbprint(publicJwk(publicKey)) };
}

/**
 * A key for a process that holds no unsealed root (a test, a tool): tokens it signs are good only
 * while it lives, and only to the listeners built with it.
 */
export function ephemeralTokenKey(): TokenKey {
  return deriveTokenKey(randomBytes(ROOT_SECRET_BYTES));
}

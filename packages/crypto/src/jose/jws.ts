// Compact JWS (RFC 7515) with the two algorithms Sealkeep principals use: ES256 (ECDSA P-256,
// signature as r||s, RFC 7518 §3.4) and EdDSA (Ed25519, RFC 8037). Keys are JWKs (RFC 7517);
// a principal's identity key is named by its JWK thumbprint (RFC 7638).

import { createHash, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export type JwsAlg = 'ES256' | 'EdDSA';

export interface JwsHeader {
  alg: JwsAlg;
  typ?: string;
  kid?: string;
  [k: string]: unknown;
}

export class JwsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwsError';
  }
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function algOf(key: KeyObject): JwsAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new JwsError(`unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ' ' + key.asymmetricKeyDetails.namedCurve : ''}`);
}

/** A public JWK for a private or public key (EC P-256 or Ed25519), without private members. */
export function publicJwk(key: KeyObject): JsonWebKey {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  algOf(pub);
  const { kty, crv, x, y } = pub.export({ format: 'jwk' });
  return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
}

/** Import a public JWK; refuses private members and unsupported curves. */
export function importPublicJwk(jwk: JsonWebKey): KeyObject {
  if (typeof jwk !== 'object' || jwk === null) throw new JwsError('not a JWK');
  if ('d' in jwk) throw new JwsError('a public key was expected, the JWK has private members');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw new JwsError('the JWK is not a valid public key');
  }
  algOf(key);
  return key;
}

export function importPrivateJwk(jwk: JsonWebKey): KeyObject {
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

/** RFC 7638 thumbprint (SHA-256, base64url) of a public JWK. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  // The required members only, in lexicographic order (RFC 7638 §3.2).
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'RSA'
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export function signJws(key: KeyObject, header: Omit<JwsHeader, 'alg'>, payload: unknown): string {
  const alg = algOf(key);
  const input = `${b64u(JSON.stringify({ ...header, alg }))}.${b64u(JSON.stringify(payload))}`;
  const sig = alg === 'ES256' ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign(null, Buffer.from(input), key);
  return `${input}.${b64u(sig)}`;
}

export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

/** Split and parse a compact JWS without verifying it (to find the key it names). */
export function decodeJws(token: string): DecodedJws {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new JwsError('not a compact JWS');
  let header: JwsHeader, payload: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError('the JWS header or payload is not JSON');
  }
  if (typeof header !== 'object' || header === null || (header.alg !== 'ES256' && header.alg !== 'EdDSA')) throw new JwsError('unsupported JWS algorithm');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new JwsError('the JWS payload is not an object');
  return { header, payload: payload as Record<string, unknown>, signingInput: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2]!, 'base64url') };
}

/** Verify a decoded JWS with a public key; the header's alg must be the key's. */
export function verifyJws(jws: DecodedJws, key: KeyObject): boolean {
  if (jws.header.alg !== algOf(key)) return false;
  if (jws.header.alg === 'ES256') return verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
  return verify(null, jws.signingInput, key, jws.signature);
}

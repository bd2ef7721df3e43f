// ECC keys and operations of the TPM (Part 1 §11.4.8 and §C "ECC"): deterministic private
// scalars from a seed for primary keys (FIPS 186-4 §B.4.2 over a KDFa stream), random keys,
// ECDSA over a caller-supplied digest (Part 1 §11.4.8.4; SEC 1 §4.1), ECDH shared points with
// both coordinates (Part 3 §14.4–14.5 ECDH_KeyGen / ECDH_ZGen) and point validation.

import { createECDH, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { TPM_RC } from '../wire/constants.js';
import { bitLength, mod, modInverse, toBigInt, toBytes } from './bigint.js';
import { CryptoFailure } from './errors.js';
import { curveOf, isOnCurve, multiply, multiplyAdd, type Curve } from './ecc-curves.js';
import { KdfaStream } from './kdf.js';

/** A point as the TPM carries it (TPMS_ECC_POINT, Part 2 §11.2.5.2), coordinates big-endian, curve-size wide. */
export interface EccPoint {
  readonly x: Buffer;
  readonly y: Buffer;
}

export interface EccKeyPair {
  readonly curveId: number;
  /** d, big-endian, curve-size wide (TPM2B_ECC_PARAMETER, the sensitive part). */
  readonly privateScalar: Buffer;
  readonly publicPoint: EccPoint;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** An ECDSA signature (TPMS_SIGNATURE_ECC's r and s, Part 2 §11.3.2), curve-size wide. */
export interface EcdsaSignature {
  readonly r: Buffer;
  readonly s: Buffer;
}

/** Label of the KDFa stream for primary ECC keys (implementation-specific). */
export const ECC_PRIVATE_LABEL = 'ECC PRIVATE';

/** Size in bytes of a coordinate or scalar on a TPM_ECC_CURVE. */
export function curveSize(curveId: number): number {
  return curveOf(curveId).size;
}

function pointFromBigInts(c: Curve, x: bigint, y: bigint): EccPoint {
  return { x: toBytes(x, c.size), y: toBytes(y, c.size) };
}

/**
 * The point's coordinates when it lies on the curve (SP 800-56A §5.6.2.3.4
 * partial validation: coordinates in range and y² = x³ + ax + b; cofactor 1, so no order
 * check); otherwise TPM_RC_ECC_POINT. Coordinates shorter than the curve size are accepted.
 */
export function validatePoint(curveId: number, point: EccPoint): { x: bigint; y: bigint } {
  const c = curveOf(curveId);
  if (point.x.length > c.size || point.y.length > c.size) throw new CryptoFailure(TPM_RC.ECC_POINT, 'coordinate wider than the curve');
  const x = toBigInt(point.x);
  const y = toBigInt(point.y);
  if (!isOnCurve(c, x, y)) throw new CryptoFailure(TPM_RC.ECC_POINT, 'point is not on the curve');
  return { x, y };
}

/** True when the point lies on the curve (see validatePoint). */
export function isPointOnCurve(curveId: number, point: EccPoint): boolean {
  try {
    validatePoint(curveId, point);
    return true;
  } catch {
    return false;
  }
}

/** d·G, via OpenSSL (uncompressed encoding 04 || x || y split into coordinates). */
function publicPointOf(c: Curve, d: bigint): EccPoint {
  const ecdh = createECDH(c.nodeName);
  ecdh.setPrivateKey(toBytes(d, c.size));
  const pub = ecdh.getPublicKey();
  return { x: pub.subarray(1, 1 + c.size), y: pub.subarray(1 + c.size) };
}

function keyPairFrom(c: Curve, d: bigint): EccKeyPair {
  const privateScalar = toBytes(d, c.size);
  const publicPoint = publicPointOf(c, d);
  const jwk = { kty: 'EC', crv: c.jwkName, x: publicPoint.x.toString('base64url'), y: publicPoint.y.toString('base64url') };
  const privateKey = createPrivateKey({ key: { ...jwk, d: privateScalar.toString('base64url') }, format: 'jwk' });
  return { curveId: c.id, privateScalar, publicPoint, privateKey, publicKey: createPublicKey({ key: jwk, format: 'jwk' }) };
}

/** A scalar in [1, n-1] from `bytes` random bytes (FIPS 186-4 §B.4.1, extra random bits). */
function randomScalar(c: Curve): bigint {
  return (toBigInt(randomBytes(c.size + 8)) % (c.n - 1n)) + 1n;
}

export interface EccDerivation {
  readonly hashAlg: number;
  readonly seed: Uint8Array;
  readonly context: Uint8Array;
  readonly curveId: number;
}

/**
 * Deterministic key pair for a primary object (Part 1 §28.3): FIPS 186-4 §B.4.2 "testing
 * candidates" — c is the next bitLength(n) bits of KdfaStream(nameAlg, seed, "ECC PRIVATE",
 * context); retry while c > n-2; d = c + 1.
 */
export function deriveEccKeyPair(spec: EccDerivation): EccKeyPair {
  const c = curveOf(spec.curveId);
  const nBits = bitLength(c.n);
  const bytes = Math.ceil(nBits / 8);
  const stream = new KdfaStream(spec.hashAlg, spec.seed, ECC_PRIVATE_LABEL, spec.context);
  for (;;) {
    const candidate = toBigInt(stream.draw(bytes)) >> BigInt(bytes * 8 - nBits);
    if (candidate <= c.n - 2n) return keyPairFrom(c, candidate + 1n);
  }
}

/** A random key pair for TPM2_Create (Part 1 §27.3). */
export function generateEccKeyPair(curveId: number): EccKeyPair {
  const c = curveOf(curveId);
  return keyPairFrom(c, randomScalar(c));
}

/**
 * Rebuild a key pair from its stored private scalar (when an object is loaded). A scalar not in
 * [1, n-1] is TPM_RC_BINDING; when `expectedPublic` is given it must match (TPM_RC_BINDING).
 */
export function eccKeyPairFromPrivate(curveId: number, privateScalar: Uint8Array, expectedPublic?: EccPoint): EccKeyPair {
  const c = curveOf(curveId);
  const d = toBigInt(privateScalar);
  if (privateScalar.length > c.size || d < 1n || d >= c.n) throw new CryptoFailure(TPM_RC.BINDING, 'private scalar out of range');
  const pair = keyPairFrom(c, d);
  if (expectedPublic) {
    const x = toBigInt(expectedPublic.x);
    const y = toBigInt(expectedPublic.y);
    if (x !== toBigInt(pair.publicPoint.x) || y !== toBigInt(pair.publicPoint.y)) {
      throw new CryptoFailure(TPM_RC.BINDING, 'public point does not match the private scalar');
    }
  }
  return pair;
}

/** A node public key for a TPM ECC public area; a point off the curve is TPM_RC_ECC_POINT. */
export function eccPublicKeyObject(curveId: number, point: EccPoint): KeyObject {
  const c = curveOf(curveId);
  const { x, y } = validatePoint(curveId, point);
  const p = pointFromBigInts(c, x, y);
  return createPublicKey({ key: { kty: 'EC', crv: c.jwkName, x: p.x.toString('base64url'), y: p.y.toString('base64url') }, format: 'jwk' });
}

/** The digest as an integer, truncated to the order's bit length (SEC 1 §4.1.3 step 5; Part 1 Annex C). */
function digestToInteger(c: Curve, hash: Uint8Array): bigint {
  const nBits = bitLength(c.n);
  const e = toBigInt(hash);
  const hBits = hash.length * 8;
  return hBits > nBits ? e >> BigInt(hBits - nBits) : e;
}

/** x-coordinate of k·G. */
function baseMultiplyX(c: Curve, k: bigint): bigint {
  return toBigInt(publicPointOf(c, k).x);
}

/** ECDSA signature over a digest (SEC 1 §4.1.3; Part 1 §11.4.8.4), random per-signature k. */
export function ecdsaSign(curveId: number, privateScalar: Uint8Array, hash: Uint8Array): EcdsaSignature {
  const c = curveOf(curveId);
  const d = toBigInt(privateScalar);
  const e = digestToInteger(c, hash);
  for (;;) {
    const k = randomScalar(c);
    const r = baseMultiplyX(c, k) % c.n;
    if (r === 0n) continue;
    const s = mod(modInverse(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    return { r: toBytes(r, c.size), s: toBytes(s, c.size) };
  }
}

/** ECDSA verification over a digest (SEC 1 §4.1.4); false for any invalid input. */
export function ecdsaVerify(curveId: number, publicPoint: EccPoint, hash: Uint8Array, sig: EcdsaSignature): boolean {
  const c = curveOf(curveId);
  if (!isPointOnCurve(curveId, publicPoint)) return false;
  const r = toBigInt(sig.r);
  const s = toBigInt(sig.s);
  if (r < 1n || r >= c.n || s < 1n || s >= c.n) return false;
  const e = digestToInteger(c, hash);
  const w = modInverse(s, c.n);
  const Q = { x: toBigInt(publicPoint.x), y: toBigInt(publicPoint.y) };
  const R = multiplyAdd(c, mod(e * w, c.n), mod(r * w, c.n), Q);
  return R !== null && R.x % c.n === r;
}

/**
 * The ECDH shared point d·Q with both coordinates (Part 1 Annex C, Part 3 §14.5 TPM2_ECDH_ZGen).
 * Q off the curve is TPM_RC_ECC_POINT; a result at infinity is TPM_RC_NO_RESULT.
 */
export function ecdhSharedPoint(curveId: number, privateScalar: Uint8Array, peer: EccPoint): EccPoint {
  const c = curveOf(curveId);
  const Q = validatePoint(curveId, peer);
  const Z = multiply(c, toBigInt(privateScalar), Q);
  if (Z === null) throw new CryptoFailure(TPM_RC.NO_RESULT, 'shared point is at infinity');
  return pointFromBigInts(c, Z.x, Z.y);
}

/**
 * One-pass ECDH with a fresh ephemeral key (Part 3 §14.4 TPM2_ECDH_KeyGen): returns the
 * ephemeral public point and the shared point. `ephemeralScalar` is for known-answer tests.
 */
export function ephemeralEcdh(curveId: number, peer: EccPoint, ephemeralScalar?: Uint8Array): { ephemeral: EccPoint; shared: EccPoint } {
  const c = curveOf(curveId);
  const d = ephemeralScalar ? toBigInt(ephemeralScalar) : randomScalar(c);
  if (d < 1n || d >= c.n) throw new Error('ephemeral scalar out of range');
  const shared = ecdhSharedPoint(curveId, toBytes(d, c.size), peer);
  return { ephemeral: publicPointOf(c, d), shared };
}

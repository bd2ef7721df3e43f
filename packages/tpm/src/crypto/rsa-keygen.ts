// RSA key pairs: deterministic derivation from a hierarchy seed for primary keys (Part 1 §28.3
// "Primary Object Creation", with KDFa as the DRBG, §11.4.10.2), random generation for
// TPM2_Create (Part 1 §27.3), and rebuilding a full key from the modulus and the one prime the
// TPM stores (TPM2B_PRIVATE_KEY_RSA, Part 2 §11.2.4.7) when an object is loaded.
//
// The prime search is implementation-specific (the spec fixes only that a seed and template
// give the same key): candidates are drawn from a KdfaStream(nameAlg, seed, "RSA PRIMES",
// context = the caller's template digest), forced to k bits with the top two bits set and odd,
// sieved, and tested by primes.ts. p is found first, then q; e must be coprime to p-1 and q-1
// and |p - q| > 2^(k-100) (FIPS 186-4 §B.3.1).

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { TPM_RC } from '../wire/constants.js';
import { bitLength, gcd, modInverse, toBigInt, toBytes } from './bigint.js';
import { CryptoFailure } from './errors.js';
import { KdfaStream } from './kdf.js';
import { isProbablePrime, isSmallPrime } from './primes.js';
import { newKeyPair } from '@sealkeep/crypto/key-pairs';

/** Part 2 §12.2.3.5: an exponent field of 0 means 2^16 + 1. */
export const RSA_DEFAULT_EXPONENT = 65537;

/** Label of the KDFa stream for primary RSA keys (implementation-specific). */
export const RSA_PRIME_LABEL = 'RSA PRIMES';

export const SUPPORTED_RSA_BITS: readonly number[] = [1024, 2048, 3072, 4096];

/** All CRT components of an RSA private key (PKCS #1 §3.2). */
export interface RsaComponents {
  readonly n: bigint;
  readonly e: bigint;
  readonly d: bigint;
  readonly p: bigint;
  readonly q: bigint;
  readonly dp: bigint;
  readonly dq: bigint;
  readonly qi: bigint;
}

export interface RsaKeyPair {
  readonly bits: number;
  /** The public exponent (never 0; 65537 when the template said 0). */
  readonly exponent: number;
  /** n, big-endian, exactly bits/8 bytes (TPM2B_PUBLIC_KEY_RSA). */
  readonly modulus: Buffer;
  /** p, big-endian, bits/16 bytes: the sensitive part the TPM stores (TPM2B_PRIVATE_KEY_RSA). */
  readonly prime: Buffer;
  readonly components: RsaComponents;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * The effective exponent of a TPMS_RSA_PARMS.exponent (Part 2 §12.2.3.5): 0 selects 65537;
 * otherwise the reference accepts only primes ≥ 65537 (TPM_RC_RANGE).
 */
export function effectiveExponent(templateExponent: number): number {
  if (templateExponent === 0) return RSA_DEFAULT_EXPONENT;
  if (templateExponent < RSA_DEFAULT_EXPONENT || !isSmallPrime(templateExponent)) {
    throw new CryptoFailure(TPM_RC.RANGE, `unsupported RSA exponent ${templateExponent}`);
  }
  return templateExponent;
}

function checkBits(bits: number): void {
  if (!SUPPORTED_RSA_BITS.includes(bits)) throw new CryptoFailure(TPM_RC.KEY_SIZE, `RSA-${bits} is not supported`);
}

function b64url(v: bigint): string {
  return toBytes(v).toString('base64url');
}

function keyPairFrom(bits: number, c: RsaComponents): RsaKeyPair {
  const jwk = {
    kty: 'RSA',
    n: b64url(c.n),
    e: b64url(c.e),
    d: b64url(c.d),
    p: b64url(c.p),
    q: b64url(c.q),
    dp: b64url(c.dp),
    dq: b64url(c.dq),
    qi: b64url(c.qi),
  };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return {
    bits,
    exponent: Number(c.e),
    modulus: toBytes(c.n, bits / 8),
    prime: toBytes(c.p, bits / 16),
    components: c,
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
}

/** Every CRT component from n's factors and e; d = e⁻¹ mod lcm(p-1, q-1) (FIPS 186-4 §B.3.1). */
function componentsFromPrimes(p: bigint, q: bigint, e: bigint): RsaComponents {
  const n = p * q;
  const pm1 = p - 1n;
  const qm1 = q - 1n;
  const lcm = (pm1 / gcd(pm1, qm1)) * qm1;
  const d = modInverse(e, lcm);
  return { n, e, d, p, q, dp: d % pm1, dq: d % qm1, qi: modInverse(q, p) };
}

/** One prime of `k` bits from the stream: top two bits set, odd, gcd(e, p-1) = 1, probable prime. */
function nextPrime(stream: KdfaStream, k: number, e: bigint, acceptable: (p: bigint) => boolean): bigint {
  const bytes = Math.ceil(k / 8);
  const excess = BigInt(bytes * 8 - k);
  const topTwo = 3n << BigInt(k - 2);
  for (;;) {
    const candidate = (toBigInt(stream.draw(bytes)) >> excess) | topTwo | 1n;
    if (gcd(e, candidate - 1n) !== 1n) continue;
    if (!acceptable(candidate)) continue;
    if (isProbablePrime(candidate, k)) return candidate;
  }
}

export interface RsaDerivation {
  /** The name algorithm of the template: KDFa's hash. */
  readonly hashAlg: number;
  /** The hierarchy's primary seed (Part 1 §14.3). */
  readonly seed: Uint8Array;
  /** What binds the key to its template, e.g. the digest of the public template. */
  readonly context: Uint8Array;
  readonly bits: number;
  /** TPMS_RSA_PARMS.exponent (0 for the default). */
  readonly exponent: number;
}

/** Deterministic RSA key pair for a primary object (Part 1 §28.3, KDFa per §11.4.10.2). */
export function deriveRsaKeyPair(spec: RsaDerivation): RsaKeyPair {
  checkBits(spec.bits);
  const e = BigInt(effectiveExponent(spec.exponent));
  const k = spec.bits / 2;
  const stream = new KdfaStream(spec.hashAlg, spec.seed, RSA_PRIME_LABEL, spec.context);
  const minDistance = 1n << BigInt(k - 100);
  const p = nextPrime(stream, k, e, () => true);
  const q = nextPrime(stream, k, e, (c) => (c > p ? c - p : p - c) > minDistance);
  return keyPairFrom(spec.bits, componentsFromPrimes(p, q, e));
}

/** A random RSA key pair for TPM2_Create (Part 1 §27.3), from OpenSSL. */
export function generateRsaKeyPair(bits: number, templateExponent: number): RsaKeyPair {
  checkBits(bits);
  const e = effectiveExponent(templateExponent);
  const { privateKey } = newKeyPair('rsa', { modulusLength: bits, publicExponent: e });
  const jwk = privateKey.export({ format: 'jwk' });
  const big = (s: string | undefined): bigint => toBigInt(Buffer.from(s ?? '', 'base64url'));
  const p = big(jwk.p);
  const q = big(jwk.q);
  return keyPairFrom(bits, componentsFromPrimes(p, q, BigInt(e)));
}

/**
 * Rebuild the full key from the public modulus and the stored prime, as when an object is
 * loaded (Part 1 §27.6). A prime that does not divide the modulus is TPM_RC_BINDING.
 */
export function rsaKeyPairFromPrime(modulus: Uint8Array, templateExponent: number, prime: Uint8Array): RsaKeyPair {
  const n = toBigInt(modulus);
  const p = toBigInt(prime);
  const bits = modulus.length * 8;
  if (bitLength(n) !== bits || p <= 1n || p >= n || n % p !== 0n) {
    throw new CryptoFailure(TPM_RC.BINDING, 'the private prime does not match the public modulus');
  }
  const e = BigInt(effectiveExponent(templateExponent));
  const q = n / p;
  try {
    return keyPairFrom(bits, componentsFromPrimes(p, q, e));
  } catch {
    throw new CryptoFailure(TPM_RC.BINDING, 'the exponent is not invertible for this modulus');
  }
}

/** A node public key for a TPM RSA public area (modulus and exponent field). */
export function rsaPublicKeyObject(modulus: Uint8Array, templateExponent: number): KeyObject {
  const e = BigInt(templateExponent === 0 ? RSA_DEFAULT_EXPONENT : templateExponent);
  return createPublicKey({ key: { kty: 'RSA', n: b64url(toBigInt(modulus)), e: b64url(e) }, format: 'jwk' });
}

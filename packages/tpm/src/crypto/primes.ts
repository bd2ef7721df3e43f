// Probable-prime testing for RSA key generation (FIPS 186-4 Appendix C.3): a small-prime
// sieve, then Miller-Rabin with the round counts of FIPS 186-4 Table C.3 and witnesses derived
// deterministically from the candidate, so a seed always yields the same primes.

import { checkPrimeSync } from 'node:crypto';
import { TPM_ALG } from '../wire/constants.js';
import { bitLength, modPow, toBigInt, toBytes } from './bigint.js';
import { KdfaStream } from './kdf.js';

function smallPrimesBelow(limit: number): number[] {
  const composite = new Uint8Array(limit);
  const out: number[] = [];
  for (let i = 2; i < limit; i++) {
    if (composite[i]) continue;
    out.push(i);
    for (let j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return out;
}

/** Odd primes below 4096, for trial division. */
const SMALL_PRIMES = smallPrimesBelow(4096).slice(1);

/** Products of consecutive small primes that fit in 2^52, so one bigint remainder serves many primes. */
const PRIME_GROUPS: ReadonlyArray<{ product: bigint; primes: number[] }> = (() => {
  const groups: { product: bigint; primes: number[] }[] = [];
  let primes: number[] = [];
  let product = 1;
  for (const p of SMALL_PRIMES) {
    if (product * p > 2 ** 52) {
      groups.push({ product: BigInt(product), primes });
      primes = [];
      product = 1;
    }
    primes.push(p);
    product *= p;
  }
  if (primes.length) groups.push({ product: BigInt(product), primes });
  return groups;
})();

/** True when n (odd, larger than every sieve prime) has no prime factor below 4096. */
export function passesSieve(n: bigint): boolean {
  for (const g of PRIME_GROUPS) {
    const r = Number(n % g.product);
    for (const p of g.primes) if (r % p === 0) return false;
  }
  return true;
}

/**
 * Miller-Rabin rounds for a prime of `bits` bits in an RSA modulus of 2·bits, from FIPS 186-4
 * Table C.3 (186-5 Table B.1), column for the modulus' security strength.
 */
export function millerRabinRounds(bits: number): number {
  if (bits >= 2048) return 4; // 2^-144
  if (bits >= 1536) return 4; // 2^-128
  if (bits >= 1024) return 5; // 2^-112
  return 8;
}

/**
 * Miller-Rabin (FIPS 186-4 §C.3.1) with `rounds` witnesses in [2, n-2] drawn from
 * KDFa(SHA256, n, "MILLER-RABIN", ...), so the verdict depends only on n.
 */
export function millerRabin(n: bigint, rounds: number): boolean {
  if (n < 5n) return n === 2n || n === 3n;
  if ((n & 1n) === 0n) return false;
  const nMinus1 = n - 1n;
  let d = nMinus1;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  const width = Math.ceil(bitLength(n) / 8) + 8; // extra bytes make the reduction near-uniform
  const witnesses = new KdfaStream(TPM_ALG.SHA256, toBytes(n), 'MILLER-RABIN');
  for (let round = 0; round < rounds; round++) {
    const a = 2n + (toBigInt(witnesses.draw(width)) % (n - 3n));
    let x = modPow(a, d, n);
    if (x === 1n || x === nMinus1) continue;
    let composite = true;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === nMinus1) {
        composite = false;
        break;
      }
      if (x === 1n) break;
    }
    if (composite) return false;
  }
  return true;
}

/**
 * The primality verdict used by key generation: sieve, then one round of OpenSSL's test as a
 * fast filter for composites (it never rejects a prime), then the deterministic Miller-Rabin
 * rounds above, which alone decide acceptance.
 */
export function isProbablePrime(n: bigint, bits: number): boolean {
  if (!passesSieve(n)) return false;
  if (!checkPrimeSync(n, { checks: 1 })) return false;
  return millerRabin(n, millerRabinRounds(bits));
}

/** Primality of a small integer (the public exponent), by trial division. */
export function isSmallPrime(v: number): boolean {
  if (v < 2 || !Number.isInteger(v)) return false;
  if (v % 2 === 0) return v === 2;
  for (let f = 3; f * f <= v; f += 2) if (v % f === 0) return false;
  return true;
}

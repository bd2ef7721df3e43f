// Big-integer helpers for the public-key code: big-endian byte conversion with the TPM's
// fixed-width (left-zero-padded) convention, modular exponentiation, inverse and gcd.
// Arithmetic is on native BigInt; it is not constant-time (this is an emulator).

/** Unsigned big-endian bytes → bigint (Part 1 §9.4 "Numbers" are big-endian). */
export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

/** bigint → big-endian bytes, left-padded with zeros to `width` (minimal length when omitted). */
export function toBytes(v: bigint, width?: number): Buffer {
  if (v < 0n) throw new RangeError('negative value');
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (hex === '00') hex = '';
  const raw = Buffer.from(hex, 'hex');
  if (width === undefined) return raw;
  if (raw.length > width) throw new RangeError(`value needs ${raw.length} bytes, width is ${width}`);
  return Buffer.concat([Buffer.alloc(width - raw.length), raw]);
}

/** Number of significant bits of a non-negative bigint. */
export function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** Non-negative remainder. */
export function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

export function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a⁻¹ mod m by the extended Euclidean algorithm; throws when gcd(a, m) ≠ 1. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return mod(s0, m);
}

const WINDOW = 5;

/** base^exp mod m by left-to-right sliding-window exponentiation (window of 5 bits). */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m === 1n) return 0n;
  base = mod(base, m);
  if (exp === 0n) return 1n;
  // Odd powers base^1, base^3, ..., base^(2^WINDOW - 1).
  const sq = (base * base) % m;
  const odd: bigint[] = [base];
  for (let i = 1; i < 1 << (WINDOW - 1); i++) odd.push((odd[i - 1]! * sq) % m);
  const bits = exp.toString(2);
  let result = 1n;
  let i = 0;
  while (i < bits.length) {
    if (bits[i] === '0') {
      result = (result * result) % m;
      i++;
      continue;
    }
    // Longest window starting here that ends in a 1 bit.
    let j = Math.min(i + WINDOW, bits.length);
    while (bits[j - 1] === '0') j--;
    const value = parseInt(bits.slice(i, j), 2);
    for (let k = i; k < j; k++) result = (result * result) % m;
    result = (result * odd[(value - 1) >> 1]!) % m;
    i = j;
  }
  return result;
}

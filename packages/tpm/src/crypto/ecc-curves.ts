// The NIST prime curves the TPM implements (Part 2 §6.4 TPM_ECC_CURVE; parameters from
// FIPS 186-4 §D.1.2 / SP 800-186 §3.2.1) and their group arithmetic: Jacobian-coordinate
// addition and doubling for a = -3, a Montgomery-ladder scalar multiplication that always
// runs over the full order length, and the curve-equation check. Not constant-time.

import { TPM_ECC_CURVE } from '../wire/constants.js';
import { bitLength, mod, modInverse } from './bigint.js';

export interface Curve {
  readonly id: number;
  /** node:crypto / OpenSSL curve name. */
  readonly nodeName: string;
  /** JWK "crv". */
  readonly jwkName: string;
  /** Field element and scalar size in bytes. */
  readonly size: number;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly n: bigint;
}

const h = (s: string): bigint => BigInt('0x' + s.replace(/\s/g, ''));

const CURVES: ReadonlyMap<number, Curve> = new Map(
  [
    {
      id: TPM_ECC_CURVE.NIST_P256,
      nodeName: 'prime256v1',
      jwkName: 'P-256',
      size: 32,
      p: h('ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff ffffffff'),
      b: h('5ac635d8 aa3a93e7 b3ebbd55 769886bc 651d06b0 cc53b0f6 3bce3c3e 27d2604b'),
      gx: h('6b17d1f2 e12c4247 f8bce6e5 63a440f2 77037d81 2deb33a0 f4a13945 d898c296'),
      gy: h('4fe342e2 fe1a7f9b 8ee7eb4a 7c0f9e16 2bce3357 6b315ece cbb64068 37bf51f5'),
      n: h('ffffffff 00000000 ffffffff ffffffff bce6faad a7179e84 f3b9cac2 fc632551'),
    },
    {
      id: TPM_ECC_CURVE.NIST_P384,
      nodeName: 'secp384r1',
      jwkName: 'P-384',
      size: 48,
      p: h('ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff fffffffe ffffffff 00000000 00000000 ffffffff'),
      b: h('b3312fa7 e23ee7e4 988e056b e3f82d19 181d9c6e fe814112 0314088f 5013875a c656398d 8a2ed19d 2a85c8ed d3ec2aef'),
      gx: h('aa87ca22 be8b0537 8eb1c71e f320ad74 6e1d3b62 8ba79b98 59f741e0 82542a38 5502f25d bf55296c 3a545e38 72760ab7'),
      gy: h('3617de4a 96262c6f 5d9e98bf 9292dc29 f8f41dbd 289a147c e9da3113 b5f0b8c0 0a60b1ce 1d7e819d 7a431d7c 90ea0e5f'),
      n: h('ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff c7634d81 f4372ddf 581a0db2 48b0a77a ecec196a ccc52973'),
    },
    {
      id: TPM_ECC_CURVE.NIST_P521,
      nodeName: 'secp521r1',
      jwkName: 'P-521',
      size: 66,
      p: (1n << 521n) - 1n,
      b: h(
        '0051 953eb961 8e1c9a1f 929a21a0 b68540ee a2da725b 99b315f3 b8b48991 8ef109e1 56193951 ec7e937b 1652c0bd 3bb1bf07 3573df88 3d2c34f1 ef451fd4 6b503f00',
      ),
      gx: h(
        '00c6 858e06b7 0404e9cd 9e3ecb66 2395b442 9c648139 053fb521 f828af60 6b4d3dba a14b5e77 efe75928 fe1dc127 a2ffa8de 3348b3c1 856a429b f97e7e31 c2e5bd66',
      ),
      gy: h(
        '0118 39296a78 9a3bc004 5c8a5fb4 2c7d1bd9 98f54449 579b4468 17afbd17 273e662c 97ee7299 5ef42640 c550b901 3fad0761 353c7086 a272c240 88be9476 9fd16650',
      ),
      n: h(
        '01ff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff fffffffa 51868783 bf2f966b 7fcc0148 f709a5d0 3bb5c9b8 899c47ae bb6fb71e 91386409',
      ),
    },
  ].map((c) => [c.id, { ...c, a: c.p - 3n }] as const),
);

/** The curve for a TPM_ECC_CURVE id, or undefined when not implemented. */
export function findCurve(curveId: number): Curve | undefined {
  return CURVES.get(curveId);
}

/** The curve for a TPM_ECC_CURVE id; unimplemented ids are a programming error here. */
export function curveOf(curveId: number): Curve {
  const c = CURVES.get(curveId);
  if (!c) throw new Error(`ECC curve 0x${curveId.toString(16)} is not implemented`);
  return c;
}

/** An affine point; `null` is the point at infinity. */
export type AffinePoint = { readonly x: bigint; readonly y: bigint } | null;

interface Jacobian {
  x: bigint;
  y: bigint;
  z: bigint; // 0 for infinity
}

const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n };

/** y² = x³ + ax + b (mod p) with both coordinates in [0, p) (SP 800-186 §3.1, SEC 1 §3.2.2.1). */
export function isOnCurve(c: Curve, x: bigint, y: bigint): boolean {
  if (x < 0n || y < 0n || x >= c.p || y >= c.p) return false;
  return mod(y * y - (x * x * x + c.a * x + c.b), c.p) === 0n;
}

/** Doubling in Jacobian coordinates for a = -3 (dbl-2001-b). */
function double(c: Curve, P: Jacobian): Jacobian {
  if (P.z === 0n || P.y === 0n) return INFINITY;
  const p = c.p;
  const delta = (P.z * P.z) % p;
  const gamma = (P.y * P.y) % p;
  const beta = (P.x * gamma) % p;
  const alpha = (3n * mod(P.x - delta, p) * (P.x + delta)) % p;
  const x = mod(alpha * alpha - 8n * beta, p);
  const z = mod((P.y + P.z) * (P.y + P.z) - gamma - delta, p);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, p);
  return { x, y, z };
}

/** General addition in Jacobian coordinates (add-2007-bl), with the doubling and inverse cases. */
function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P.z === 0n) return Q;
  if (Q.z === 0n) return P;
  const p = c.p;
  const z1z1 = (P.z * P.z) % p;
  const z2z2 = (Q.z * Q.z) % p;
  const u1 = (P.x * z2z2) % p;
  const u2 = (Q.x * z1z1) % p;
  const s1 = (P.y * Q.z * z2z2) % p;
  const s2 = (Q.y * P.z * z1z1) % p;
  const hh0 = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  if (hh0 === 0n) return r === 0n ? double(c, P) : INFINITY;
  const hh = (hh0 * hh0) % p;
  const hhh = (hh0 * hh) % p;
  const v = (u1 * hh) % p;
  const x = mod(r * r - hhh - 2n * v, p);
  const y = mod(r * (v - x) - s1 * hhh, p);
  const z = (P.z * Q.z * hh0) % p;
  return { x, y, z };
}

function toAffine(c: Curve, P: Jacobian): AffinePoint {
  if (P.z === 0n) return null;
  const zi = modInverse(P.z, c.p);
  const zi2 = (zi * zi) % c.p;
  return { x: (P.x * zi2) % c.p, y: (P.y * zi2 * zi) % c.p };
}

function fromAffine(P: AffinePoint): Jacobian {
  return P === null ? INFINITY : { x: P.x, y: P.y, z: 1n };
}

/**
 * k·P by a Montgomery ladder over bitLength(n) bits, so the operation sequence does not depend
 * on the length of k (SEC 1 §2.2.1 scalar multiplication).
 */
export function multiply(c: Curve, k: bigint, P: AffinePoint): AffinePoint {
  let r0 = INFINITY;
  let r1 = fromAffine(P);
  for (let i = bitLength(c.n) - 1; i >= 0; i--) {
    if ((k >> BigInt(i)) & 1n) {
      r0 = add(c, r0, r1);
      r1 = double(c, r1);
    } else {
      r1 = add(c, r0, r1);
      r0 = double(c, r0);
    }
  }
  return toAffine(c, r0);
}

/** u1·G + u2·Q, for ECDSA verification (SEC 1 §4.1.4 step 5). */
export function multiplyAdd(c: Curve, u1: bigint, u2: bigint, Q: AffinePoint): AffinePoint {
  const a = fromAffine(multiply(c, u1, { x: c.gx, y: c.gy }));
  const b = fromAffine(multiply(c, u2, Q));
  return toAffine(c, add(c, a, b));
}

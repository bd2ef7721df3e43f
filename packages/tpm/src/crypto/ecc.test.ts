// ECC keys, ECDSA and ECDH (Part 1 §11.4.8, Annex C), checked against node:crypto.

import assert from 'node:assert/strict';
import { createECDH, createHash, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { TPM_ALG, TPM_ECC_CURVE, TPM_RC } from '../wire/constants.js';
import {
  deriveEccKeyPair,
  ecdhSharedPoint,
  ecdsaSign,
  ecdsaVerify,
  eccKeyPairFromPrivate,
  eccPublicKeyObject,
  generateEccKeyPair,
  isPointOnCurve,
  validatePoint,
} from './ecc.js';
import { curveOf } from './ecc-curves.js';
import { CryptoFailure } from './errors.js';

const isRc = (rc: number) => (e: unknown) => e instanceof CryptoFailure && e.rc === rc;
const CURVES = [
  [TPM_ECC_CURVE.NIST_P256, 'sha256'],
  [TPM_ECC_CURVE.NIST_P384, 'sha384'],
] as const;

describe('deterministic ECC keys (Part 1 §28.3, FIPS 186-4 §B.4.2)', () => {
  for (const [curveId] of CURVES) {
    it(`curve ${curveId}: same seed gives the same key, different seed a different one`, () => {
      const spec = { hashAlg: TPM_ALG.SHA256, seed: Buffer.alloc(32, 3), context: Buffer.from('tmpl'), curveId };
      const a = deriveEccKeyPair(spec);
      const b = deriveEccKeyPair(spec);
      const c = deriveEccKeyPair({ ...spec, seed: Buffer.alloc(32, 4) });
      assert.deepEqual(a.privateScalar, b.privateScalar);
      assert.deepEqual(a.publicPoint, b.publicPoint);
      assert.notDeepEqual(a.privateScalar, c.privateScalar);
      assert.equal(a.privateScalar.length, curveOf(curveId).size);
      assert.ok(isPointOnCurve(curveId, a.publicPoint));
      assert.deepEqual(eccKeyPairFromPrivate(curveId, a.privateScalar, a.publicPoint).publicPoint, a.publicPoint);
      assert.throws(() => eccKeyPairFromPrivate(curveId, a.privateScalar, c.publicPoint), isRc(TPM_RC.BINDING));
    });
  }
});

describe('ECDSA over a digest', () => {
  for (const [curveId, hashName] of CURVES) {
    it(`curve ${curveId}: our signatures verify with node and node's with ours`, () => {
      const key = generateEccKeyPair(curveId);
      const msg = Buffer.from('message');
      const d = createHash(hashName).update(msg).digest();
      const sig = ecdsaSign(curveId, key.privateScalar, d);
      assert.ok(verify(hashName, msg, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([sig.r, sig.s])));
      assert.ok(ecdsaVerify(curveId, key.publicPoint, d, sig));
      const byNode = sign(hashName, msg, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
      const size = curveOf(curveId).size;
      assert.ok(ecdsaVerify(curveId, key.publicPoint, d, { r: byNode.subarray(0, size), s: byNode.subarray(size) }));
      const bad = Buffer.from(d);
      bad[3]! ^= 0x10;
      assert.equal(ecdsaVerify(curveId, key.publicPoint, bad, sig), false);
    });
  }

  it('truncates a digest longer than the order (P-256 with SHA-384), as node does', () => {
    const key = generateEccKeyPair(TPM_ECC_CURVE.NIST_P256);
    const msg = Buffer.from('long digest');
    const d = createHash('sha384').update(msg).digest();
    const sig = ecdsaSign(TPM_ECC_CURVE.NIST_P256, key.privateScalar, d);
    assert.ok(verify('sha384', msg, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.concat([sig.r, sig.s])));
  });
});

describe('ECDH and point validation', () => {
  for (const [curveId] of CURVES) {
    it(`curve ${curveId}: shared point x equals node's ECDH secret; both sides agree`, () => {
      const c = curveOf(curveId);
      const a = generateEccKeyPair(curveId);
      const b = generateEccKeyPair(curveId);
      const z1 = ecdhSharedPoint(curveId, a.privateScalar, b.publicPoint);
      const z2 = ecdhSharedPoint(curveId, b.privateScalar, a.publicPoint);
      assert.deepEqual(z1, z2);
      assert.ok(isPointOnCurve(curveId, z1));
      const ecdh = createECDH(c.nodeName);
      ecdh.setPrivateKey(a.privateScalar);
      assert.deepEqual(z1.x, ecdh.computeSecret(Buffer.concat([Buffer.of(4), b.publicPoint.x, b.publicPoint.y])));
    });

    it(`curve ${curveId}: a point off the curve is TPM_RC_ECC_POINT`, () => {
      const a = generateEccKeyPair(curveId);
      const off = { x: a.publicPoint.x, y: Buffer.from(a.publicPoint.y) };
      off.y[off.y.length - 1]! ^= 1;
      assert.throws(() => validatePoint(curveId, off), isRc(TPM_RC.ECC_POINT));
      assert.throws(() => ecdhSharedPoint(curveId, a.privateScalar, off), isRc(TPM_RC.ECC_POINT));
      assert.throws(() => eccPublicKeyObject(curveId, off), isRc(TPM_RC.ECC_POINT));
      assert.throws(() => validatePoint(curveId, { x: Buffer.alloc(curveOf(curveId).size, 0xff), y: a.publicPoint.y }), isRc(TPM_RC.ECC_POINT));
    });
  }

  it('accepts coordinates shorter than the curve size (leading zeros dropped)', () => {
    const a = generateEccKeyPair(TPM_ECC_CURVE.NIST_P256);
    const trimmed = { x: a.publicPoint.x.subarray(a.publicPoint.x[0] === 0 ? 1 : 0), y: a.publicPoint.y };
    assert.ok(isPointOnCurve(TPM_ECC_CURVE.NIST_P256, trimmed));
  });
});

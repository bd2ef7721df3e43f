// RSA key generation (deterministic and random) and operations, checked against node:crypto.

import assert from 'node:assert/strict';
import { constants, createHash, privateDecrypt, publicEncrypt, sign, verify } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { CryptoFailure } from './errors.js';
import { digest } from './hash.js';
import { millerRabin } from './primes.js';
import { rsaDecrypt, rsaEncrypt, rsaSign, rsaVerify } from './rsa.js';
import { deriveRsaKeyPair, effectiveExponent, generateRsaKeyPair, rsaKeyPairFromPrime, rsaPublicKeyObject, type RsaKeyPair } from './rsa-keygen.js';

const isRc = (rc: number) => (e: unknown) => e instanceof CryptoFailure && e.rc === rc;
const seed = Buffer.alloc(32, 0x5a);
const context = digest(TPM_ALG.SHA256, Buffer.from('template'));

describe('deterministic RSA key derivation (Part 1 §28.3)', () => {
  for (const bits of [2048, 3072]) {
    it(`RSA-${bits}: same seed and template give the same key, in time`, (t) => {
      const t0 = performance.now();
      const a = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed, context, bits, exponent: 0 });
      const elapsed = performance.now() - t0;
      t.diagnostic(`RSA-${bits} derivation: ${elapsed.toFixed(0)} ms`);
      const b = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed, context, bits, exponent: 0 });
      assert.deepEqual(a.modulus, b.modulus);
      assert.equal(a.modulus.length, bits / 8);
      assert.equal(a.modulus[0]! >= 0x80, true);
      const { p, q, n, e, d } = a.components;
      assert.equal(p * q, n);
      assert.equal(e, 65537n);
      assert.ok(millerRabin(p, 8) && millerRabin(q, 8));
      assert.equal((p > q ? p - q : q - p) > 1n << BigInt(bits / 2 - 100), true);
      const m = 0x1234567n;
      assert.equal(modPowSlow(modPowSlow(m, e, n), d, n), m);
      assert.ok(elapsed < 30_000, `derivation should take seconds at most, not minutes (${elapsed.toFixed(0)} ms)`); // (a bound a contended machine always meets)
    });
  }

  it('a different seed, template or name algorithm gives a different key', () => {
    const base = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed, context, bits: 2048, exponent: 0 }).modulus;
    const otherSeed = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed: Buffer.alloc(32, 1), context, bits: 2048, exponent: 0 }).modulus;
    const otherContext = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed, context: Buffer.from('x'), bits: 2048, exponent: 0 }).modulus;
    const otherHash = deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA384, seed, context, bits: 2048, exponent: 0 }).modulus;
    assert.notDeepEqual(base, otherSeed);
    assert.notDeepEqual(base, otherContext);
    assert.notDeepEqual(base, otherHash);
  });

  it('exponent: 0 means 65537, small or composite exponents are TPM_RC_RANGE', () => {
    assert.equal(effectiveExponent(0), 65537);
    assert.equal(effectiveExponent(65539), 65539);
    assert.throws(() => effectiveExponent(3), isRc(TPM_RC.RANGE));
    assert.throws(() => effectiveExponent(65541), isRc(TPM_RC.RANGE));
  });

  it('unsupported sizes are TPM_RC_KEY_SIZE', () => {
    assert.throws(() => deriveRsaKeyPair({ hashAlg: TPM_ALG.SHA256, seed, context, bits: 1000, exponent: 0 }), isRc(TPM_RC.KEY_SIZE));
  });
});

function modPowSlow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

describe('RSA operations', () => {
  let key: RsaKeyPair;
  before(() => {
    key = generateRsaKeyPair(2048, 0);
  });
  const label = Buffer.from('LABEL\0');
  const message = Buffer.from('attack at dawn');

  it('rebuilds the key from modulus and stored prime; a wrong prime is TPM_RC_BINDING', () => {
    const again = rsaKeyPairFromPrime(key.modulus, 0, key.prime);
    assert.equal(again.components.d, key.components.d);
    const wrong = Buffer.from(key.prime);
    wrong[wrong.length - 1]! ^= 2;
    assert.throws(() => rsaKeyPairFromPrime(key.modulus, 0, wrong), isRc(TPM_RC.BINDING));
  });

  it('OAEP with a label: node encrypts, we decrypt; we encrypt, node decrypts', () => {
    const scheme = { scheme: TPM_ALG.OAEP, hashAlg: TPM_ALG.SHA256 } as const;
    const byNode = publicEncrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, message);
    assert.deepEqual(rsaDecrypt(key.privateKey, scheme, label, byNode), message);
    const byUs = rsaEncrypt(rsaPublicKeyObject(key.modulus, 0), scheme, label, message);
    assert.deepEqual(privateDecrypt({ key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label }, byUs), message);
  });

  it('OAEP: a label without its NUL, a wrong label, or a long message is TPM_RC_VALUE', () => {
    const scheme = { scheme: TPM_ALG.OAEP, hashAlg: TPM_ALG.SHA1 } as const;
    assert.throws(() => rsaEncrypt(key.publicKey, scheme, Buffer.from('LABEL'), message), isRc(TPM_RC.VALUE));
    const ct = rsaEncrypt(key.publicKey, scheme, label, message);
    assert.throws(() => rsaDecrypt(key.privateKey, scheme, Buffer.from('OTHER\0'), ct), isRc(TPM_RC.VALUE));
    assert.throws(() => rsaEncrypt(key.publicKey, scheme, label, Buffer.alloc(256 - 2 * 20 - 1)), isRc(TPM_RC.VALUE));
    assert.throws(() => rsaDecrypt(key.privateKey, scheme, label, ct.subarray(1)), isRc(TPM_RC.SIZE));
  });

  it('RSAES-PKCS1-v1_5 round trip, and node-encrypted input decrypts', () => {
    const scheme = { scheme: TPM_ALG.RSAES } as const;
    assert.deepEqual(rsaDecrypt(key.privateKey, scheme, Buffer.alloc(0), rsaEncrypt(key.publicKey, scheme, Buffer.alloc(0), message)), message);
    const byNode = publicEncrypt({ key: key.publicKey, padding: constants.RSA_PKCS1_PADDING }, message);
    assert.deepEqual(rsaDecrypt(key.privateKey, scheme, Buffer.alloc(0), byNode), message);
    const garbage = Buffer.alloc(256, 1);
    assert.throws(() => rsaDecrypt(key.privateKey, scheme, Buffer.alloc(0), garbage), isRc(TPM_RC.VALUE));
  });

  it('raw RSA (TPM_ALG_NULL): left-padded to the modulus size; a value ≥ n is TPM_RC_VALUE', () => {
    const scheme = { scheme: TPM_ALG.NULL } as const;
    const ct = rsaEncrypt(key.publicKey, scheme, Buffer.alloc(0), Buffer.of(5));
    assert.equal(ct.length, 256);
    assert.deepEqual(rsaDecrypt(key.privateKey, scheme, Buffer.alloc(0), ct), Buffer.concat([Buffer.alloc(255), Buffer.of(5)]));
    assert.throws(() => rsaEncrypt(key.publicKey, scheme, Buffer.alloc(0), Buffer.alloc(256, 0xff)), isRc(TPM_RC.VALUE));
  });

  for (const [hashAlg, name] of [
    [TPM_ALG.SHA1, 'sha1'],
    [TPM_ALG.SHA256, 'sha256'],
    [TPM_ALG.SHA384, 'sha384'],
  ] as const) {
    it(`RSASSA and RSAPSS over a ${name} digest verify with node:crypto and back`, () => {
      const d = createHash(name).update(message).digest();
      const ssa = rsaSign(key.privateKey, { scheme: TPM_ALG.RSASSA, hashAlg }, d);
      assert.ok(verify(name, message, key.publicKey, ssa));
      assert.ok(rsaVerify(key.publicKey, { scheme: TPM_ALG.RSASSA, hashAlg }, d, ssa));
      const pss = rsaSign(key.privateKey, { scheme: TPM_ALG.RSAPSS, hashAlg }, d);
      assert.ok(verify(name, message, { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: d.length }, pss));
      const byNode = sign(name, message, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN });
      assert.ok(rsaVerify(key.publicKey, { scheme: TPM_ALG.RSAPSS, hashAlg }, d, byNode));
      const tampered = Buffer.from(d);
      tampered[0]! ^= 1;
      assert.equal(rsaVerify(key.publicKey, { scheme: TPM_ALG.RSASSA, hashAlg }, tampered, ssa), false);
      assert.equal(rsaVerify(key.publicKey, { scheme: TPM_ALG.RSAPSS, hashAlg }, tampered, pss), false);
    });
  }

  it('a digest of the wrong size is TPM_RC_SIZE', () => {
    assert.throws(() => rsaSign(key.privateKey, { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 }, Buffer.alloc(20)), isRc(TPM_RC.SIZE));
  });
});

// Secret sharing (Part 1 §24): known answers from test/vectors/tpm-secret-sharing.json in both
// directions, round trips, and the symmetric salt forms.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Reader } from '../wire/codec.js';
import { TPM_ALG, TPM_ECC_CURVE, TPM_RC } from '../wire/constants.js';
import { generateEccKeyPair } from './ecc.js';
import { CryptoFailure } from './errors.js';
import { rsaKeyPairFromPrime } from './rsa-keygen.js';
import { createSeed, encryptSaltSymmetric, recoverSaltSymmetric, recoverSeed, type SharingLabel } from './secret-sharing.js';
import { generateRsaKeyPair } from './rsa-keygen.js';

interface Vector {
  name: string;
  label: SharingLabel;
  publicKey: string;
  privateKey: string;
  secret: string;
  ciphertext: string;
  ephemeralPrivate?: string;
  oaepSalt?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../../../test/vectors/tpm-secret-sharing.json', import.meta.url), 'utf8')) as {
  ecc: Vector[];
  rsa: Vector[];
};
const hex = (s: string) => Buffer.from(s, 'hex');
const isRc = (rc: number) => (e: unknown) => e instanceof CryptoFailure && e.rc === rc;

/** Just enough of TPMT_PUBLIC (Part 2 §12.2.4) for these vectors; the real codec lives in wire/. */
function readPublic(bytes: Buffer) {
  const r = new Reader(bytes);
  const type = r.u16();
  const nameAlg = r.u16();
  r.u32(); // objectAttributes
  r.bytes(r.u16()); // authPolicy
  if (r.u16() !== TPM_ALG.NULL) r.bytes(4); // symmetric keyBits + mode
  const scheme = r.u16();
  const schemeHash = scheme !== TPM_ALG.NULL ? r.u16() : TPM_ALG.NULL;
  if (type === TPM_ALG.RSA) {
    r.u16(); // keyBits
    const exponent = r.u32();
    return { type, nameAlg, scheme, schemeHash, exponent, modulus: r.bytes(r.u16()) };
  }
  const curveId = r.u16();
  if (r.u16() !== TPM_ALG.NULL) r.u16(); // kdf
  return { type, nameAlg, scheme, schemeHash, curveId, x: r.bytes(r.u16()), y: r.bytes(r.u16()) };
}

/** TPMT_SENSITIVE (Part 2 §12.3.2.5): the last TPM2B is the private value. */
function readSensitive(bytes: Buffer): Buffer {
  const r = new Reader(bytes);
  r.u16();
  r.bytes(r.u16());
  r.bytes(r.u16());
  return r.bytes(r.u16());
}

describe('ECC secret sharing known answers (Annex C "Secret Sharing")', () => {
  for (const v of vectors.ecc) {
    it(v.name, () => {
      const pub = readPublic(hex(v.publicKey));
      const point = { x: pub.x!, y: pub.y! };
      const made = createSeed({ type: TPM_ALG.ECC, curveId: pub.curveId!, publicPoint: point, nameAlg: pub.nameAlg }, v.label, {
        ephemeralScalar: hex(v.ephemeralPrivate!),
      });
      assert.equal(made.seed.toString('hex'), v.secret);
      assert.equal(made.encryptedSecret.toString('hex'), v.ciphertext);
      const key = { type: TPM_ALG.ECC, curveId: pub.curveId!, privateScalar: readSensitive(hex(v.privateKey)), publicPoint: point, nameAlg: pub.nameAlg } as const;
      assert.equal(recoverSeed(key, v.label, hex(v.ciphertext)).toString('hex'), v.secret);
    });
  }
});

describe('RSA secret sharing known answers (Annex B "Secret Sharing")', () => {
  for (const v of vectors.rsa) {
    it(v.name, () => {
      const pub = readPublic(hex(v.publicKey));
      const pair = rsaKeyPairFromPrime(pub.modulus!, pub.exponent!, readSensitive(hex(v.privateKey)));
      const hashAlg = pub.scheme === TPM_ALG.OAEP ? pub.schemeHash : pub.nameAlg;
      const made = createSeed({ type: TPM_ALG.RSA, publicKey: pair.publicKey, hashAlg }, v.label, { seed: hex(v.secret), oaepSeed: hex(v.oaepSalt!) });
      assert.equal(made.encryptedSecret.toString('hex'), v.ciphertext);
      assert.equal(recoverSeed({ type: TPM_ALG.RSA, privateKey: pair.privateKey, hashAlg }, v.label, hex(v.ciphertext)).toString('hex'), v.secret);
    });
  }
});

describe('secret sharing round trips', () => {
  it('RSA: seed of the hash size; the wrong label fails with TPM_RC_VALUE', () => {
    const k = generateRsaKeyPair(2048, 0);
    const made = createSeed({ type: TPM_ALG.RSA, publicKey: k.publicKey, hashAlg: TPM_ALG.SHA256 }, 'SECRET');
    assert.equal(made.seed.length, 32);
    const key = { type: TPM_ALG.RSA, privateKey: k.privateKey, hashAlg: TPM_ALG.SHA256 } as const;
    assert.deepEqual(recoverSeed(key, 'SECRET', made.encryptedSecret), made.seed);
    assert.throws(() => recoverSeed(key, 'DUPLICATE', made.encryptedSecret), isRc(TPM_RC.VALUE));
  });

  it('ECC: recovers the seed; an off-curve point is TPM_RC_ECC_POINT, garbage TPM_RC_VALUE', () => {
    const k = generateEccKeyPair(TPM_ECC_CURVE.NIST_P256);
    const made = createSeed({ type: TPM_ALG.ECC, curveId: k.curveId, publicPoint: k.publicPoint, nameAlg: TPM_ALG.SHA256 }, 'IDENTITY');
    const key = { type: TPM_ALG.ECC, curveId: k.curveId, privateScalar: k.privateScalar, publicPoint: k.publicPoint, nameAlg: TPM_ALG.SHA256 } as const;
    assert.deepEqual(recoverSeed(key, 'IDENTITY', made.encryptedSecret), made.seed);
    const bent = Buffer.from(made.encryptedSecret);
    bent[bent.length - 1]! ^= 1;
    assert.throws(() => recoverSeed(key, 'IDENTITY', bent), isRc(TPM_RC.ECC_POINT));
    assert.throws(() => recoverSeed(key, 'IDENTITY', Buffer.of(0, 5, 1)), isRc(TPM_RC.VALUE));
  });

  it('symmetric tpmKeys: keyed-hash XOR and symcipher CFB salts round-trip', () => {
    const salt = Buffer.alloc(32, 0x11);
    const nonce = Buffer.alloc(20, 0x22);
    for (const key of [
      { type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, key: Buffer.alloc(32, 1) },
      { type: TPM_ALG.SYMCIPHER, nameAlg: TPM_ALG.SHA256, key: Buffer.alloc(16, 2) },
    ] as const) {
      const secret = encryptSaltSymmetric(key, nonce, salt);
      assert.notDeepEqual(secret, salt);
      assert.deepEqual(recoverSaltSymmetric(key, nonce, secret), salt);
      assert.throws(() => recoverSaltSymmetric(key, nonce, Buffer.alloc(33)), isRc(TPM_RC.VALUE));
    }
  });
});

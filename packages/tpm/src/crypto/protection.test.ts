// Protected storage and credential protection (Part 1 §22–24): round trips, tamper detection,
// and TPM2_MakeCredential's known answer from test/vectors/tpm-credential.json.

import assert from 'node:assert/strict';
import { createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { TPM_ALG, TPM_RC } from '../wire/constants.js';
import { CryptoFailure } from './errors.js';
import { protectCredential, recoverCredential, unwrapInner, unwrapOuter, wrapInner, wrapOuter, type OuterProtection } from './protection.js';
import { createSeed } from './secret-sharing.js';

const isIntegrity = (e: unknown) => e instanceof CryptoFailure && e.rc === TPM_RC.INTEGRITY;
const name = Buffer.concat([Buffer.of(0x00, 0x0b), randomBytes(32)]);
const outer: OuterProtection = { hashAlg: TPM_ALG.SHA256, seed: randomBytes(32), symAlg: TPM_ALG.AES, symKeyBits: 128, name };
const sensitive = Buffer.concat([Buffer.of(0, 10), Buffer.from('0123456789')]);

describe('outer wrapper (Part 1 §22.4–22.5)', () => {
  it('round-trips; layout is TPM2B_DIGEST(HMAC) || encrypted', () => {
    const blob = wrapOuter(outer, sensitive);
    assert.equal(blob.readUInt16BE(0), 32);
    assert.equal(blob.length, 2 + 32 + sensitive.length);
    assert.deepEqual(unwrapOuter(outer, blob), sensitive);
  });

  it('any tampering is TPM_RC_INTEGRITY', () => {
    const blob = wrapOuter(outer, sensitive);
    for (const at of [0, 1, 5, blob.length - 1]) {
      const bad = Buffer.from(blob);
      bad[at]! ^= 0x40;
      assert.throws(() => unwrapOuter(outer, bad), isIntegrity, `byte ${at}`);
    }
    assert.throws(() => unwrapOuter({ ...outer, name: Buffer.concat([name.subarray(0, 33), Buffer.of(name[33]! ^ 1)]) }, blob), isIntegrity);
    assert.throws(() => unwrapOuter({ ...outer, seed: randomBytes(32) }, blob), isIntegrity);
    assert.throws(() => unwrapOuter(outer, Buffer.of(0)), isIntegrity);
  });

  it('works with AES-256 and SHA-384', () => {
    const p = { ...outer, hashAlg: TPM_ALG.SHA384, symKeyBits: 256 };
    assert.deepEqual(unwrapOuter(p, wrapOuter(p, sensitive)), sensitive);
  });
});

describe('inner wrapper (Part 1 §23.3.2.3)', () => {
  const inner = { hashAlg: TPM_ALG.SHA256, symKey: randomBytes(16), name };
  it('round-trips and detects tampering', () => {
    const enc = wrapInner(inner, sensitive);
    assert.equal(enc.length, 2 + 32 + sensitive.length);
    assert.deepEqual(unwrapInner(inner, enc), sensitive);
    const bad = Buffer.from(enc);
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => unwrapInner(inner, bad), isIntegrity);
    assert.throws(() => unwrapInner({ ...inner, symKey: randomBytes(16) }, enc), isIntegrity);
  });
});

describe('credential protection (Part 1 §24.4)', () => {
  const v = JSON.parse(readFileSync(new URL('../../../../test/vectors/tpm-credential.json', import.meta.url), 'utf8')) as {
    ekPublicPem: string;
    ekNameAlg: number;
    symKeyBits: number;
    akNameDigestBase64: string;
    credentialBase64: string;
    expectedBase64: string;
  };

  it('MakeCredential matches go-tpm for an RSA EK', () => {
    const akName = Buffer.concat([Buffer.of(0x00, 0x0b), Buffer.from(v.akNameDigestBase64, 'base64')]);
    const { seed, encryptedSecret } = createSeed(
      { type: TPM_ALG.RSA, publicKey: createPublicKey(v.ekPublicPem), hashAlg: v.ekNameAlg },
      'IDENTITY',
      { seed: Buffer.alloc(16), oaepSeed: Buffer.alloc(32) },
    );
    const p = { hashAlg: v.ekNameAlg, seed, symAlg: TPM_ALG.AES, symKeyBits: v.symKeyBits, name: akName };
    const idObject = protectCredential(p, Buffer.from(v.credentialBase64, 'base64'));
    const sized = (b: Buffer) => Buffer.concat([Buffer.of(b.length >> 8, b.length & 0xff), b]);
    assert.equal(Buffer.concat([sized(idObject), sized(encryptedSecret)]).toString('base64'), v.expectedBase64);
    assert.deepEqual(recoverCredential(p, idObject), Buffer.from(v.credentialBase64, 'base64'));
  });

  it('ActivateCredential with the wrong key name is TPM_RC_INTEGRITY', () => {
    const id = protectCredential(outer, Buffer.alloc(32, 7));
    assert.deepEqual(recoverCredential(outer, id), Buffer.alloc(32, 7));
    assert.throws(() => recoverCredential({ ...outer, name: Buffer.concat([Buffer.of(0, 0x0b), randomBytes(32)]) }, id), isIntegrity);
  });
});

// Local wrapping: RFC 5649 §6 known answers through our AES key wrap with padding, and round
// trips of every key type's material in both formats, opened here the way the service opens
// them (RSA-OAEP-SHA-256 private decryption, then the id-aes256-wrap-pad decipher).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDecipheriv, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_TYPES, checkMaterial, type KeyType } from './key-material.js';
import { KWP_ALTERNATIVE_IV, MAX_RSA_OAEP_MATERIAL, aesKeyWrapWithPadding, wrapKeyMaterial, type WrappingAlgorithm } from './wrap.js';
import { newKeyPair } from '@sealkeep/crypto';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

// RFC 5649 §6: a 192-bit KEK, a 20-octet key and a 7-octet one ("ForPasi").
const RFC5649_KEK = hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8');
const RFC5649_VECTORS = [
  { key: hex('c37b7e6492584340 bed1220780894115 5068f738'), wrapped: hex('138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a') },
  { key: hex('466f7250617369'), wrapped: hex('afbeb0f07dfbf541 9200f2ccb50bb24f') },
];

test('AES key wrap with padding gives the RFC 5649 §6 known answers (20-octet and 7-octet keys)', () => {
  for (const { key, wrapped } of RFC5649_VECTORS) {
    assert.equal(aesKeyWrapWithPadding(RFC5649_KEK, key).toString('hex'), wrapped.toString('hex'));
  }
  assert.deepEqual(KWP_ALTERNATIVE_IV, hex('a65959a6'));
  assert.throws(() => aesKeyWrapWithPadding(Buffer.alloc(20), Buffer.alloc(8)), /16, 24 or 32 bytes/);
  assert.throws(() => aesKeyWrapWithPadding(Buffer.alloc(32), Buffer.alloc(0)), /at least one byte/);
});

const wrapping = newKeyPair('rsa', { modulusLength: 3072 });
const RSA_BYTES = 384;

const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'der' });
/** Material of each key type, valid as checkMaterial sees it; hmac-sha256 at both ends and an odd length. */
const MATERIAL: Array<[KeyType, Buffer]> = [
  ['aes-256', randomBytes(32)],
  ['hmac-sha256', randomBytes(32)],
  ['hmac-sha256', randomBytes(45)],
  ['hmac-sha256', randomBytes(64)],
  ['xts-aes-256', randomBytes(64)],
  ['ec-p256', pkcs8(newKeyPair('ec', { namedCurve: 'P-256' }).privateKey)],
  ['ec-p384', pkcs8(newKeyPair('ec', { namedCurve: 'P-384' }).privateKey)],
  ['rsa-2048', pkcs8(newKeyPair('rsa', { modulusLength: 2048 }).privateKey)],
  ['rsa-3072', pkcs8(newKeyPair('rsa', { modulusLength: 3072 }).privateKey)],
];

const oaepDecrypt = (data: Buffer) => privateDecrypt({ key: wrapping.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);

function unwrap(wrapped: Buffer, algorithm: WrappingAlgorithm): Buffer {
  if (algorithm === 'rsa-oaep-sha256') return oaepDecrypt(wrapped);
  const aesKey = oaepDecrypt(wrapped.subarray(0, RSA_BYTES));
  assert.equal(aesKey.length, 32, 'a 32-byte ephemeral AES key');
  const decipher = createDecipheriv('id-aes256-wrap-pad', aesKey, hex('a65959a6'));
  return Buffer.concat([decipher.update(wrapped.subarray(RSA_BYTES)), decipher.final()]);
}

test('every key type round-trips through rsa-aes-key-wrap-sha256, and through rsa-oaep-sha256 up to 32 bytes', () => {
  assert.deepEqual(new Set(MATERIAL.map(([t]) => t)), new Set(KEY_TYPES));
  for (const [keyType, material] of MATERIAL) {
    checkMaterial(keyType, material);
    const wrapped = wrapKeyMaterial(material, wrapping.publicKey, 'rsa-aes-key-wrap-sha256');
    const padded = Math.ceil(material.length / 8) * 8;
    assert.equal(wrapped.length, RSA_BYTES + padded + 8, `${keyType}: RSA block ‖ RFC 5649 output`);
    assert.deepEqual(unwrap(wrapped, 'rsa-aes-key-wrap-sha256'), material, keyType);
    assert.ok(!wrapKeyMaterial(material, wrapping.publicKey).equals(wrapped), `${keyType}: a fresh AES key every time`);

    if (material.length <= MAX_RSA_OAEP_MATERIAL) {
      const direct = wrapKeyMaterial(material, wrapping.publicKey, 'rsa-oaep-sha256');
      assert.equal(direct.length, RSA_BYTES);
      assert.deepEqual(unwrap(direct, 'rsa-oaep-sha256'), material, `${keyType} under rsa-oaep-sha256`);
    } else {
      assert.throws(() => wrapKeyMaterial(material, wrapping.publicKey, 'rsa-oaep-sha256'), /at most 32 bytes/, `${keyType} is too long for rsa-oaep-sha256`);
    }
  }
});

test('a changed key-wrap layer fails its integrity check; a non-RSA wrapping key is refused', () => {
  const material = randomBytes(32);
  const wrapped = wrapKeyMaterial(material, wrapping.publicKey);
  wrapped[wrapped.length - 1]! ^= 1;
  assert.throws(() => unwrap(wrapped, 'rsa-aes-key-wrap-sha256'));
  const ec = newKeyPair('ec', { namedCurve: 'P-256' }).publicKey;
  assert.throws(() => wrapKeyMaterial(material, ec), /RSA public key/);
  assert.throws(() => wrapKeyMaterial(material, wrapping.privateKey), /RSA public key/);
  assert.throws(() => wrapKeyMaterial(Buffer.alloc(33), wrapping.publicKey, 'rsa-oaep-sha256'), /at most 32 bytes of material, not 33/);
});

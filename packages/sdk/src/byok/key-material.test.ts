// Reading a tenant's key file: every PEM flavour and DER for the asymmetric types (material =
// PKCS#8 DER, type detected), raw, hex and base64 bytes for the secret types (type given), and
// clear refusals when the file is not what was asked for.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KeyMaterialError, checkMaterial, keyMaterialOf, readKeyFile, type KeyType } from './key-material.js';
import { newKeyPair } from '@sealkeep/crypto';

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-key-material-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEYS: Array<[KeyType, KeyObject]> = [
  ['ec-p256', newKeyPair('ec', { namedCurve: 'P-256' }).privateKey],
  ['ec-p384', newKeyPair('ec', { namedCurve: 'P-384' }).privateKey],
  ['rsa-2048', newKeyPair('rsa', { modulusLength: 2048 }).privateKey],
  ['rsa-3072', newKeyPair('rsa', { modulusLength: 3072 }).privateKey],
];
const pkcs8 = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'der' });

test('asymmetric keys: PKCS#8, SEC1 and PKCS#1 PEM and DER files give PKCS#8 DER and the detected type', () => {
  for (const [keyType, key] of KEYS) {
    const legacy = key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1';
    const files = {
      'pkcs8.pem': key.export({ type: 'pkcs8', format: 'pem' }),
      [`${legacy}.pem`]: key.export({ type: legacy, format: 'pem' }),
      'pkcs8.der': pkcs8(key),
      [`${legacy}.der`]: key.export({ type: legacy, format: 'der' }),
    };
    for (const [name, contents] of Object.entries(files)) {
      const file = path.join(dir, `${keyType}-${name}`);
      writeFileSync(file, contents);
      for (const asked of [undefined, keyType]) {
        const read = readKeyFile(file, asked);
        assert.equal(read.keyType, keyType, `${keyType} ${name}`);
        assert.deepEqual(read.material, pkcs8(key), `${keyType} ${name}: PKCS#8 DER`);
      }
    }
  }
  assert.match(String(KEYS[0]![1].export({ type: 'sec1', format: 'pem' })), /BEGIN EC PRIVATE KEY/);
  assert.match(String(KEYS[2]![1].export({ type: 'pkcs1', format: 'pem' })), /BEGIN RSA PRIVATE KEY/);
});

test('secret keys: raw, hex, base64 and base64url bytes, given their type', () => {
  for (const [keyType, length] of [['aes-256', 32], ['hmac-sha256', 48], ['xts-aes-256', 64]] as const) {
    const secret = randomBytes(length);
    const base64 = secret.toString('base64');
    const encodings = {
      raw: secret,
      hex: `${secret.toString('hex')}\n`,
      base64: `${base64}\n`,
      'wrapped-base64': `${base64.slice(0, 40)}\n${base64.slice(40)}\n`,
      base64url: secret.toString('base64url'),
    };
    for (const [encoding, contents] of Object.entries(encodings)) {
      const file = path.join(dir, `${keyType}.${encoding}`);
      writeFileSync(file, contents);
      assert.deepEqual(readKeyFile(file, keyType), { keyType, material: secret }, `${keyType} as ${encoding}`);
    }
  }
});

const RSA_PEM = Buffer.from(KEYS[2]![1].export({ type: 'pkcs1', format: 'pem' }));
const refusal = (bytes: Buffer | string, keyType: KeyType | undefined, message: RegExp) =>
  assert.throws(() => keyMaterialOf(Buffer.from(bytes), { keyType, source: 'key.pem' }), (e: unknown) => e instanceof KeyMaterialError && message.test(e.message));

test('a file that is not what was asked for is refused, saying what it holds', () => {
  refusal(RSA_PEM, 'ec-p256', /key\.pem holds an RSA 2048 key \(rsa-2048\), not ec-p256/);
  refusal(KEYS[1]![1].export({ type: 'sec1', format: 'pem' }) as string, 'ec-p256', /an EC P-384 key \(ec-p384\), not ec-p256/);
  refusal(RSA_PEM, 'aes-256', /holds an RSA 2048 key \(rsa-2048\), not raw aes-256 key bytes/);
  refusal(newKeyPair('rsa', { modulusLength: 4096 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), undefined, /an RSA 4096 key; Sealkeep imports ec-p256, ec-p384, rsa-2048, rsa-3072/);
  refusal(newKeyPair('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), undefined, /an ed25519 key; Sealkeep imports/);
  refusal(newKeyPair('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), 'ec-p384', /an EC secp521r1 key, not ec-p384/);
  refusal(KEYS[0]![1].export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }), undefined, /encrypted private key/);
  refusal(newKeyPair('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }), 'ec-p256', /a PEM "PUBLIC KEY", not a private key/);
  refusal(randomBytes(32), undefined, /give the type \(aes-256, hmac-sha256, xts-aes-256\)/);
  refusal(randomBytes(32), 'rsa-2048', /not a private key \(PEM or DER\), so it is not rsa-2048/);
  refusal(randomBytes(31).toString('hex'), 'aes-256', /aes-256 material is 32 bytes, not 31/);
  refusal(randomBytes(65), 'hmac-sha256', /hmac-sha256 material is 32 to 64 bytes, not 65/);
  const half = randomBytes(32);
  refusal(Buffer.concat([half, half]), 'xts-aes-256', /both halves are the same/);
});

test('material given directly is checked against its type', () => {
  checkMaterial('aes-256', randomBytes(32));
  checkMaterial('rsa-2048', pkcs8(KEYS[2]![1]));
  assert.throws(() => checkMaterial('ec-p256', pkcs8(KEYS[2]![1])), /the material is an RSA 2048 key, not ec-p256/);
  assert.throws(() => checkMaterial('ec-p256', randomBytes(121)), /PKCS#8 DER private key/);
  assert.throws(() => checkMaterial('aes-256', randomBytes(16)), /32 bytes, not 16/);
});

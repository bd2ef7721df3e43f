// The token key: the same root gives the same P-256 key (so every API node that unsealed the root
// verifies the others' tokens), another root another key; the key signs ES256 and its kid is its
// RFC 7638 thumbprint. A root of the wrong size is refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJws, jwkThumbprint, publicJwk, signJws, verifyJws } from '@sealkeep/crypto';
import { deriveTokenKey } from './token-key.js';

test('one root, one key: deterministic, distinct per root, ES256 on P-256, kid = thumbprint', () => {
  const root = randomBytes(32);
  const a = deriveTokenKey(root);
  const b = deriveTokenKey(Buffer.from(root));
  assert.deepEqual(publicJwk(a.publicKey), publicJwk(b.publicKey));
  assert.equal(a.kid, b.kid);
  assert.equal(a.kid, jwkThumbprint(publicJwk(a.publicKey)));
  assert.equal(a.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

  const other = deriveTokenKey(randomBytes(32));
  assert.notEqual(other.kid, a.kid);

  const token = signJws(a.privateKey, { typ: 'test' }, { n: 1 });
  assert.equal(decodeJws(token).header.alg, 'ES256');
  assert.ok(verifyJws(decodeJws(token), b.publicKey));
  assert.ok(!verifyJws(decodeJws(token), other.publicKey));
});

// A vector: the scalar computed apart from this code (RFC 5869 HKDF-SHA-256 in Python, empty
// salt, reduced mod n − 1, plus 1); the kid follows from it. A change to the derivation fails here.
test('a fixed root gives the key of the documented derivation', () => {
  const root = createHash('sha256').update('sealkeep token-key test vector').digest();
  const key = deriveTokenKey(root);
  assert.equal(key.privateKey.export({ format: 'jwk' }).d, 'stLKvTCmVcLEyLxyLM3-XpJu26RNlb6iurU-icWXR5A');
  assert.equal(key.kid, 'BS7qS0RtngXGVJfwt8LL8lcwA-J3yc4OMFsEcU-Vczg');
});

test('a root that is not 32 bytes is refused', () => {
  assert.throws(() => deriveTokenKey(randomBytes(16)), /32 bytes/);
});

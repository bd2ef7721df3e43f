// Compact JWS: round trips for ES256 and EdDSA, the RFC 7638 thumbprint known answer, and
// refusal of tampered tokens, wrong keys, algorithm confusion and private JWKs.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeJws, importPublicJwk, jwkThumbprint, JwsError, publicJwk, signJws, verifyJws } from './jws.js';
import { newKeyPair } from '../key-pairs.js';

const keys = {
  ES256: newKeyPair('ec', { namedCurve: 'P-256' }),
  EdDSA: newKeyPair('ed25519'),
};

for (const [alg, { privateKey, publicKey }] of Object.entries(keys)) {
  test(`${alg}: sign, decode, verify; a changed payload or another key fails`, () => {
    const token = signJws(privateKey, { typ: 'test', kid: 'k1' }, { hello: 'world', n: 1 });
    const d = decodeJws(token);
    assert.equal(d.header.alg, alg);
    assert.deepEqual(d.payload, { hello: 'world', n: 1 });
    assert.equal(verifyJws(d, importPublicJwk(publicJwk(publicKey))), true);
    const [h, , s] = token.split('.');
    const forged = decodeJws(`${h}.${Buffer.from('{"hello":"mars","n":1}').toString('base64url')}.${s}`);
    assert.equal(verifyJws(forged, publicKey), false);
    const other = alg === 'ES256' ? keys.EdDSA.publicKey : keys.ES256.publicKey;
    assert.equal(verifyJws(d, other), false, 'algorithm and key must agree');
  });
}

test('RFC 7638 §3.1 thumbprint known answer', () => {
  const jwk = {
    kty: 'RSA',
    e: 'AQAB',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  };
  assert.equal(jwkThumbprint({ ...jwk, alg: 'RS256', kid: '2011-04-29' }), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  const ec = publicJwk(keys.ES256.publicKey);
  assert.match(jwkThumbprint(ec), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(jwkThumbprint(ec), jwkThumbprint({ ...ec }));
});

test('malformed tokens and private JWKs are refused with JwsError', () => {
  for (const t of ['', 'a.b', 'a.b.c.d', '!!.e30.', `${Buffer.from('{"alg":"none"}').toString('base64url')}.e30.`]) {
    assert.throws(() => decodeJws(t), JwsError, t);
  }
  const priv = keys.ES256.privateKey.export({ format: 'jwk' });
  assert.throws(() => importPublicJwk(priv), /private members/);
  const rsa = newKeyPair('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  assert.throws(() => importPublicJwk(rsa), /unsupported key type/);
});

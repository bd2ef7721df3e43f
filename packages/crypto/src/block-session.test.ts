// Sealed session bodies: on either engine, a body sealed where it lies, in parts of any sizes,
// is node:crypto's AES-256-GCM of the whole (IV = direction ‖ seq, AAD = method, URL), and opens
// back; a body only authenticated is left as it is, its tag the GMAC of AAD and body; any other
// key, seq, direction, way of sealing, method, URL, tag or bit does not open; parts that overlap
// are refused by the addon, since each would be encrypted twice. Every block operation's body
// that carries plaintext sectors is encrypted. A session proof proves exactly its opening, by
// exactly the trusted key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { enginesUnderTest, gcmReference } from './block/engines-under-test.js';
import { BODY_SEALS, bodySealsOf, openBody, sealBody, sessionAuthorization, parseSessionAuthorization, sessionProofFault, signSessionOpening, SESSION_PROOF_TYPE, SESSION_TAG_BYTES } from './block-session.js';
import { jwkThumbprint, publicJwk, signJws } from './jose/jws.js';
import { newKeyPair } from './key-pairs.js';

const URL_ = '/v1/block-sessions/AAAAAAAAAAAAAAAAAAAAAA/blocks/encrypt-sign?lba=8';

/** node:crypto's one-shot GCM of the whole body under a session's IV and AAD (or, authenticated only, with the body after the AAD and nothing encrypted): what a sealed body must equal. */
function reference(key: Buffer, direction: 0 | 1, seq: number, method: string, url: string, body: Buffer, authenticateOnly = false): { ciphertext: Buffer; tag: Buffer } {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(direction, 0);
  iv.writeBigUInt64BE(BigInt(seq), 4);
  return gcmReference(key, iv, Buffer.from(`${method} ${url}\n`), body, authenticateOnly);
}

/** `body` cut into parts at random places (empty parts included). */
function cut(body: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const n = randomInt(0, Math.min(body.length - at, 200_000) + 1);
    parts.push(Buffer.from(body.subarray(at, at + n)));
    at += n;
  }
  return parts;
}

for (const { name, engine, skip } of enginesUnderTest()) {
  test(`${name}: a body sealed in parts is GCM of the whole, and opens back where it lies`, { skip }, () => {
    for (const size of [0, 1, 15, 16, 4096, 65_536 + 3, 300_000]) {
      const key = randomBytes(32);
      const seq = randomInt(1, 2 ** 40);
      const body = randomBytes(size);
      const parts = cut(body);
      for (const [direction, bit] of [['request', 0], ['answer', 1]] as const) {
        const sealed = parts.map((p) => Buffer.from(p));
        const iv = Buffer.alloc(12);
        iv.writeUInt32BE(bit, 0);
        iv.writeBigUInt64BE(BigInt(seq), 4);
        const tag = Buffer.alloc(16);
        assert.equal(engine!.gcmInPlace(true, key, iv, Buffer.from(`POST ${URL_}\n`), sealed, tag, false), true);
        const expected = reference(key, bit, seq, 'POST', URL_, body);
        assert.deepEqual(Buffer.concat(sealed), expected.ciphertext, `${size} bytes, ${direction}`);
        assert.deepEqual(tag, expected.tag);
        assert.equal(engine!.gcmInPlace(false, key, iv, Buffer.from(`POST ${URL_}\n`), sealed, tag, false), true);
        assert.deepEqual(Buffer.concat(sealed), body);
      }
    }
  });

  test(`${name}: a body authenticated in parts is left as it is, its tag the GMAC of AAD and body, and checks back`, { skip }, () => {
    for (const size of [0, 1, 15, 16, 4096, 65_536 + 3, 300_000]) {
      const key = randomBytes(32);
      const seq = randomInt(1, 2 ** 40);
      const body = randomBytes(size);
      const parts = cut(body);
      const iv = Buffer.alloc(12);
      iv.writeBigUInt64BE(BigInt(seq), 4);
      const tag = Buffer.alloc(16);
      assert.equal(engine!.gcmInPlace(true, key, iv, Buffer.from(`POST ${URL_}\n`), parts, tag, true), true);
      assert.deepEqual(Buffer.concat(parts), body, `${size} bytes: not encrypted`);
      assert.deepEqual(tag, reference(key, 0, seq, 'POST', URL_, body, true).tag);
      assert.equal(engine!.gcmInPlace(false, key, iv, Buffer.from(`POST ${URL_}\n`), parts, tag, true), true);
      assert.deepEqual(Buffer.concat(parts), body, 'checking writes nothing');
      if (size > 0) {
        parts.find((p) => p.length > 0)![0]! ^= 1;
        assert.equal(engine!.gcmInPlace(false, key, iv, Buffer.from(`POST ${URL_}\n`), parts, tag, true), false, 'every bit counts');
      }
    }
  });
}

const [native] = enginesUnderTest();
test('native: parts that overlap are refused (each would be encrypted twice), and so are wrong key, IV and tag lengths', { skip: native!.skip }, () => {
  const buffer = randomBytes(100);
  const gcm = (key: number, iv: number, parts: Buffer[], tag: number) => () => native!.engine!.gcmInPlace(true, randomBytes(key), randomBytes(iv), Buffer.alloc(0), parts, Buffer.alloc(tag), false);
  assert.throws(gcm(32, 12, [buffer.subarray(0, 50), buffer.subarray(49)], 16), /parts overlap/);
  assert.throws(gcm(32, 12, [buffer, buffer], 16), /parts overlap/);
  assert.doesNotThrow(gcm(32, 12, [buffer.subarray(0, 50), buffer.subarray(50)], 16));
  assert.throws(gcm(31, 12, [], 16), /32 bytes/);
  assert.throws(gcm(32, 16, [], 16), /12 bytes/);
  assert.throws(gcm(32, 12, [], 12), /16 bytes/);
});

test('a sealed body opens only under its own key, seq, direction, method, URL and tag, and every bit counts', () => {
  const key = randomBytes(32);
  const body = randomBytes(10_000);
  const sealed = Buffer.from(body);
  const tag = sealBody(key, 7, 'request', 'encrypted', 'POST', URL_, [sealed]);
  assert.equal(tag.length, SESSION_TAG_BYTES);
  assert.notDeepEqual(sealed, body);
  const opens = (k: Buffer, seq: number, direction: 'request' | 'answer', method: string, url: string, bytes: Buffer, t: Buffer) => openBody(k, seq, direction, 'encrypted', method, url, [Buffer.from(bytes)], t);
  const flipped = (b: Buffer, i: number) => {
    const c = Buffer.from(b);
    c[i]! ^= 1;
    return c;
  };
  assert.equal(opens(key, 7, 'request', 'POST', URL_, sealed, tag), true);
  assert.equal(opens(key, 7, 'request', 'post', URL_, sealed, tag), true, 'the method is upper-cased on both ends');
  assert.equal(opens(randomBytes(32), 7, 'request', 'POST', URL_, sealed, tag), false);
  assert.equal(opens(key, 8, 'request', 'POST', URL_, sealed, tag), false);
  assert.equal(opens(key, 7, 'answer', 'POST', URL_, sealed, tag), false, 'a request cannot be played back as an answer');
  assert.equal(opens(key, 7, 'request', 'PUT', URL_, sealed, tag), false);
  assert.equal(opens(key, 7, 'request', 'POST', URL_.replace('lba=8', 'lba=9'), sealed, tag), false);
  assert.equal(opens(key, 7, 'request', 'POST', URL_, flipped(sealed, 9_999), tag), false);
  assert.equal(opens(key, 7, 'request', 'POST', URL_, sealed, flipped(tag, 0)), false);
  assert.equal(opens(key, 7, 'request', 'POST', URL_, sealed, tag.subarray(0, 12)), false, 'a short tag');
  assert.equal(opens(key, 7, 'request', 'POST', URL_, sealed.subarray(1), tag), false);
  assert.equal(openBody(key, 7, 'request', 'authenticated', 'POST', URL_, [Buffer.from(sealed)], tag), false, 'an encrypted body does not check as an authenticated one');
});

test('an authenticated body crosses as it is, and checks only under its own key, seq, direction, way of sealing, method, URL and tag', () => {
  const key = randomBytes(32);
  const body = randomBytes(10_000);
  const sent = Buffer.from(body);
  const tag = sealBody(key, 7, 'answer', 'authenticated', 'POST', URL_, [sent]);
  assert.deepEqual(sent, body);
  const checks = (k: Buffer, seq: number, direction: 'request' | 'answer', seal: 'encrypted' | 'authenticated', method: string, url: string, bytes: Buffer, t: Buffer) => openBody(k, seq, direction, seal, method, url, [Buffer.from(bytes)], t);
  assert.equal(checks(key, 7, 'answer', 'authenticated', 'POST', URL_, body, tag), true);
  assert.equal(checks(randomBytes(32), 7, 'answer', 'authenticated', 'POST', URL_, body, tag), false);
  assert.equal(checks(key, 8, 'answer', 'authenticated', 'POST', URL_, body, tag), false);
  assert.equal(checks(key, 7, 'request', 'authenticated', 'POST', URL_, body, tag), false, 'an answer cannot be played back as a request');
  assert.equal(checks(key, 7, 'answer', 'encrypted', 'POST', URL_, body, tag), false, 'nor taken for an encrypted body');
  assert.equal(checks(key, 7, 'answer', 'authenticated', 'POST', URL_.replace('encrypt-sign', 'encrypt'), body, tag), false);
  const altered = Buffer.from(body);
  altered[5_000]! ^= 0x80;
  assert.equal(checks(key, 7, 'answer', 'authenticated', 'POST', URL_, altered, tag), false);
  assert.equal(checks(key, 7, 'answer', 'authenticated', 'POST', URL_, body.subarray(0, 9_999), tag), false);
});

test('every block operation body that carries plaintext sectors is encrypted', () => {
  // What each body carries (docs/service.md, "Block operations"): plaintext goes in with encrypt
  // and encrypt-sign, and comes back from decrypt and verify-decrypt.
  const carriesPlaintext = { encrypt: ['request'], 'encrypt-sign': ['request'], sign: [], verify: [], decrypt: ['answer'], 'verify-decrypt': ['answer'] };
  assert.deepEqual(Object.keys(BODY_SEALS).sort(), Object.keys(carriesPlaintext).sort());
  for (const [op, ways] of Object.entries(BODY_SEALS)) {
    for (const direction of ['request', 'answer'] as const) {
      const plaintext = (carriesPlaintext as Record<string, string[]>)[op]!.includes(direction);
      assert.equal(ways[direction], plaintext ? 'encrypted' : 'authenticated', `${op} ${direction}`);
    }
    assert.equal(bodySealsOf(op), ways);
  }
  for (const other of [undefined, 'attestation', 'constructor']) assert.deepEqual(bodySealsOf(other), { request: 'encrypted', answer: 'encrypted' }, `${other}: every other body encrypted`);
});

test('the Authorization header carries seq and tag, and parses back', () => {
  const tag = randomBytes(16);
  const header = sessionAuthorization(42, tag);
  assert.match(header, /^Sealkeep-Session 42\.[\w-]{22}$/);
  assert.deepEqual(parseSessionAuthorization(header), { seq: 42, tag });
});

test('a session proof holds for its opening under its key, and for nothing else', () => {
  const service = newKeyPair('ec', { namedCurve: 'P-256' });
  const kid = jwkThumbprint(publicJwk(service.publicKey));
  const opening = { sid: 'AAAAAAAAAAAAAAAAAAAAAA', vol: 'v', vm: 'm', boot: 'b', adapter: 'A'.repeat(87), service: 'S'.repeat(87) };
  const proof = signSessionOpening({ privateKey: service.privateKey, kid }, opening);
  assert.equal(sessionProofFault(proof, service.publicKey, opening), null);
  for (const field of Object.keys(opening) as Array<keyof typeof opening>) {
    assert.match(sessionProofFault(proof, service.publicKey, { ...opening, [field]: 'other' }) ?? '', new RegExp(`another ${field}`));
  }
  const other = newKeyPair('ec', { namedCurve: 'P-256' });
  assert.match(sessionProofFault(proof, other.publicKey, opening) ?? '', /another key/);
  // Signed by another key that claims the trusted key's kid: the signature fails.
  const forged = signJws(other.privateKey, { typ: SESSION_PROOF_TYPE, kid }, opening);
  assert.match(sessionProofFault(forged, service.publicKey, opening) ?? '', /signature does not verify/);
  // The trusted key's signature on something else (a delegation token, say) is not a session proof.
  const token = signJws(service.privateKey, { typ: 'sealkeep-delegation+jwt', kid }, opening);
  assert.match(sessionProofFault(token, service.publicKey, opening) ?? '', /type is not/);
  assert.match(sessionProofFault(undefined, service.publicKey, opening) ?? '', /no session proof/);
  assert.match(sessionProofFault('x.y', service.publicKey, opening) ?? '', /not a JWS/);
});

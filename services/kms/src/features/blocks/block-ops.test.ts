// The block ops' in-place answers: encrypt-sign written into the room after its body gives the
// same bytes as into a buffer of its own, writes nothing past its answer, and without room (or
// with too little) never writes past the body; every op round-trips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { selectBlockCryptoEngine, volumeIdFromUuid } from '@sealkeep/crypto';
import { runBlockOp, type OpenedVolume } from './block-ops.js';

const engine = selectBlockCryptoEngine();
function volume(sectorSize: 512 | 4096): OpenedVolume {
  const volumeId = volumeIdFromUuid('6c1f3c1e-8a43-4b43-9d0c-3f0c0b3a5e11');
  return {
    cipher: engine.openSectorCipher({ key: randomBytes(64), sectorSize }),
    tagger: engine.openSectorTagger({ key: Buffer.alloc(32, 9), volumeId, sectorSize }),
    sectorSize,
  };
}

/** A request body for `count` sectors: generations (u64 BE) ‖ plaintext, at the start of an ArrayBuffer with `room` bytes after it. */
function encryptSignBody(count: number, sectorSize: number, room: number): { body: Uint8Array; plaintext: Buffer } {
  const plaintext = randomBytes(count * sectorSize);
  const memory = new Uint8Array(count * (8 + sectorSize) + room).fill(0xee);
  const view = new DataView(memory.buffer);
  for (let i = 0; i < count; i++) view.setBigUint64(i * 8, BigInt(i + 1), false);
  memory.set(plaintext, count * 8);
  return { body: memory.subarray(0, count * (8 + sectorSize)), plaintext };
}

for (const sectorSize of [512, 4096] as const) {
  test(`encrypt-sign in place (${sectorSize}-byte sectors) answers what a separate buffer would, then verifies and decrypts`, () => {
    const v = volume(sectorSize);
    const count = 64;
    const answerBytes = count * (sectorSize + 32);
    const apart = encryptSignBody(count, sectorSize, 0);
    const roomy = encryptSignBody(count, sectorSize, 64 * 1024);
    roomy.body.set(apart.body); // the same request
    const a = runBlockOp(v, 'encrypt-sign', 1000n, apart.body);
    const b = runBlockOp(v, 'encrypt-sign', 1000n, roomy.body, 64 * 1024);
    assert.ok(a.ok && b.ok);
    assert.equal(a.data.length, answerBytes);
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), 'same ciphertext and tags either way');
    assert.equal(b.data.buffer, roomy.body.buffer, 'written in place');
    assert.notEqual(a.data.buffer, apart.body.buffer, 'no room: an answer of its own');
    const after = new Uint8Array(roomy.body.buffer, count * 8 + answerBytes);
    assert.ok(after.every((x) => x === 0xee), 'nothing written past the answer');

    // verify-decrypt takes generations ‖ ciphertext ‖ tags and gives the plaintext back.
    const request = Buffer.concat([Buffer.from(apart.body.subarray(0, count * 8)), Buffer.from(a.data)]);
    const back = runBlockOp(v, 'verify-decrypt', 1000n, request);
    assert.ok(back.ok);
    assert.ok(Buffer.from(back.data).equals(apart.plaintext));
  });

  test(`encrypt-sign with too little room (${sectorSize}-byte sectors) leaves the memory after the body alone`, () => {
    const v = volume(sectorSize);
    const count = 16;
    const tight = encryptSignBody(count, sectorSize, 100);
    const r = runBlockOp(v, 'encrypt-sign', 0n, tight.body, 100);
    assert.ok(r.ok);
    assert.notEqual(r.data.buffer, tight.body.buffer);
    assert.ok(new Uint8Array(tight.body.buffer, tight.body.length).every((x) => x === 0xee));
  });
}

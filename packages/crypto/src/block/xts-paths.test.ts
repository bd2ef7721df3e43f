// The native engine's two AES-XTS paths (native/sector_crypto.h): the provider's cipher functions
// called directly, taken by default, and the EVP API, the fallback when the provider lookup fails
// or disagrees with EVP at key open. Both must give the same bytes, each decrypting the other's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { enginesUnderTest } from './engines-under-test.js';
import { generateXtsKey } from './engine.js';
import { MAX_U64, type SectorSize } from './formats.js';
import { openNativeSectorCipher } from './native-engine.js';

const skip = enginesUnderTest()[0]!.skip;

test('native: an XTS key takes the provider path by default, the EVP path when asked', { skip }, () => {
  const key = generateXtsKey();
  for (const sectorSize of [512, 4096] as const) {
    const fast = openNativeSectorCipher({ key, sectorSize })!;
    const evp = openNativeSectorCipher({ key, sectorSize }, { evpOnly: true })!;
    assert.equal(fast.xtsPath, 'provider', 'the provider path was not taken: the fallback is slower per sector');
    assert.equal(evp.xtsPath, 'evp');
    fast.destroy();
    evp.destroy();
  }
});

test('native: the provider and EVP paths give the same bytes and decrypt each other', { skip }, () => {
  for (let round = 0; round < 24; round++) {
    const sectorSize: SectorSize = round % 2 ? 4096 : 512;
    const count = randomInt(1, 40);
    // The edges of the LBA space, then random LBAs of every magnitude.
    const firstLba =
      round === 0 ? 0n : round === 1 ? MAX_U64 - BigInt(count - 1) : randomBytes(8).readBigUInt64LE(0) >> BigInt(randomInt(64));
    const key = generateXtsKey();
    const plaintext = randomBytes(count * sectorSize);
    const fast = openNativeSectorCipher({ key, sectorSize })!;
    const evp = openNativeSectorCipher({ key, sectorSize }, { evpOnly: true })!;
    const where = `round ${round}: ${count} × ${sectorSize} B at LBA ${firstLba}`;

    const byProvider = Buffer.alloc(plaintext.length);
    const byEvp = Buffer.alloc(plaintext.length);
    fast.encrypt(firstLba, plaintext, byProvider);
    evp.encrypt(firstLba, plaintext, byEvp);
    assert.ok(byProvider.equals(byEvp), `${where}: ciphertexts differ`);

    const back = Buffer.alloc(plaintext.length);
    evp.decrypt(firstLba, byProvider, back);
    assert.ok(back.equals(plaintext), `${where}: EVP decrypts the provider's ciphertext`);
    const inPlace = Buffer.from(byEvp);
    fast.decrypt(firstLba, inPlace, inPlace);
    assert.ok(inPlace.equals(plaintext), `${where}: the provider path decrypts EVP's ciphertext in place`);
    fast.destroy();
    evp.destroy();
  }
});

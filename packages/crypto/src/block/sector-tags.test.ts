// Sector tags on both engines: a known answer built here with createHmac over the documented
// layout, and verification that fails, naming the LBA, when a ciphertext bit, the LBA, the
// generation, the volume id or the tag itself changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { enginesUnderTest } from './engines-under-test.js';
import { volumeIdFromUuid } from './formats.js';

const u64be = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
};

/** The tag as README.md defines it, built independently of the engines. */
const expectedTag = (key: Buffer, volumeId: Buffer, lba: bigint, generation: bigint, sector: Buffer) =>
  createHmac('sha256', key).update(Buffer.concat([volumeId, u64be(lba), u64be(generation), sector])).digest();

test('volume ids are a UUID in string order', () => {
  assert.equal(volumeIdFromUuid('00112233-4455-6677-8899-AABBCCDDEEFF').toString('hex'), '00112233445566778899aabbccddeeff');
  assert.throws(() => volumeIdFromUuid('00112233445566778899aabbccddeeff'), { code: 'INVALID_ARGUMENT' });
});

for (const { name, engine, skip } of enginesUnderTest()) {
  for (const sectorSize of [512, 4096] as const) {
    test(`${name}, ${sectorSize} B: tags equal HMAC-SHA-256 over volume id, LBA and generation (u64 BE) and ciphertext`, { skip }, () => {
      const key = randomBytes(32);
      const volumeId = volumeIdFromUuid('6f1c2a9e-0d4b-4c55-9e3a-7b1d2c3e4f50');
      const tagger = engine!.openSectorTagger({ key, volumeId, sectorSize });
      const ciphertext = randomBytes(4 * sectorSize);
      const firstLba = 0x0102030405060708n;
      const tags = Buffer.alloc(4 * 32);

      tagger.tag(firstLba, 42n, ciphertext, tags);
      for (let i = 0; i < 4; i++) {
        const sector = ciphertext.subarray(i * sectorSize, (i + 1) * sectorSize);
        assert.equal(tags.subarray(i * 32, (i + 1) * 32).toString('hex'), expectedTag(key, volumeId, firstLba + BigInt(i), 42n, sector).toString('hex'));
      }

      const perSector = BigUint64Array.of(7n, 8n, 2n ** 64n - 1n, 0n);
      tagger.tag(firstLba, perSector, ciphertext, tags);
      const third = ciphertext.subarray(2 * sectorSize, 3 * sectorSize);
      assert.ok(tags.subarray(64, 96).equals(expectedTag(key, volumeId, firstLba + 2n, 2n ** 64n - 1n, third)));
      assert.deepEqual(tagger.verify(firstLba, perSector, ciphertext, tags), []);
      tagger.destroy();
    });
  }

  test(`${name}: verification names the LBAs whose ciphertext, LBA, generation, volume id or tag changed`, { skip }, () => {
    const sectorSize = 512;
    const key = randomBytes(32);
    const volumeId = randomBytes(16);
    const tagger = engine!.openSectorTagger({ key, volumeId, sectorSize });
    const ciphertext = randomBytes(8 * sectorSize);
    const tags = Buffer.alloc(8 * 32);
    const firstLba = 1000n;
    tagger.tag(firstLba, 5n, ciphertext, tags);
    assert.deepEqual(tagger.verify(firstLba, 5n, ciphertext, tags), []);

    const flipped = Buffer.from(ciphertext);
    flipped[3 * sectorSize + 17]! ^= 0x04;
    assert.deepEqual(tagger.verify(firstLba, 5n, flipped, tags), [1003n], 'one bit of sector 1003');
    flipped[6 * sectorSize]! ^= 0x80;
    assert.deepEqual(tagger.verify(firstLba, 5n, flipped, tags), [1003n, 1006n], 'every failing LBA, in order');

    const range = (from: bigint, n: number) => Array.from({ length: n }, (_, i) => from + BigInt(i));
    assert.deepEqual(tagger.verify(firstLba + 1n, 5n, ciphertext, tags), range(1001n, 8), 'read back at another LBA');
    assert.deepEqual(tagger.verify(firstLba, 6n, ciphertext, tags), range(1000n, 8), 'another generation');
    const generations = new BigUint64Array(8).fill(5n);
    generations[4] = 4n;
    assert.deepEqual(tagger.verify(firstLba, generations, ciphertext, tags), [1004n], 'a rolled-back sector');

    const otherId = Buffer.from(volumeId);
    otherId[15]! ^= 0x01; // (zeroing the byte left the id unchanged whenever it was already 0: one run in 256 failed)
    const otherVolume = engine!.openSectorTagger({ key, volumeId: otherId, sectorSize });
    assert.deepEqual(otherVolume.verify(firstLba, 5n, ciphertext, tags), range(1000n, 8), 'another volume id');
    const otherKey = engine!.openSectorTagger({ key: randomBytes(32), volumeId, sectorSize });
    assert.deepEqual(otherKey.verify(firstLba, 5n, ciphertext, tags), range(1000n, 8), 'another key');

    const badTag = Buffer.from(tags);
    badTag[7 * 32 + 31]! ^= 1;
    assert.deepEqual(tagger.verify(firstLba, 5n, ciphertext, badTag), [1007n], 'the last byte of the last tag');
    for (const t of [tagger, otherVolume, otherKey]) t.destroy();
  });
}

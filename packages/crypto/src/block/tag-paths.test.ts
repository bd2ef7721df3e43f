// The native engine's two tag paths (native/sector_crypto.h): sixteen sectors at a time in AVX-512
// lanes, taken where the CPU has AVX-512, and OpenSSL's HMAC one sector at a time, taken elsewhere
// and for the last few sectors of a batch. Both must give the same tags, each verifying the
// other's, for every batch length around the sixteen-lane groups.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { cpuHas, enginesUnderTest } from './engines-under-test.js';
import { MAX_U64, type SectorSize } from './formats.js';
import { openNativeSectorTagger } from './native-engine.js';

const skip = enginesUnderTest()[0]!.skip;

const lanesSkip = skip || (cpuHas('avx512f', 'avx512bw') ? false : 'this CPU has no AVX-512 F and BW: only the EVP path runs here');

/** The format, written out with Node's HMAC (README: "Integrity: one tag per sector"). */
function referenceTag(key: Uint8Array, volumeId: Uint8Array, lba: bigint, generation: bigint, sector: Uint8Array): Buffer {
  const header = Buffer.alloc(32);
  header.set(volumeId, 0);
  header.writeBigUInt64BE(lba, 16);
  header.writeBigUInt64BE(generation, 24);
  return createHmac('sha256', key).update(header).update(sector).digest();
}

test('native: an integrity key takes the lanes path where the CPU has AVX-512, the EVP path when asked', { skip }, () => {
  const options = { key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 4096 as const };
  const fast = openNativeSectorTagger(options)!;
  const evp = openNativeSectorTagger(options, { evpOnly: true })!;
  assert.equal(fast.tagPath, cpuHas('avx512f', 'avx512bw') ? 'lanes' : 'evp');
  assert.equal(evp.tagPath, 'evp');
  fast.destroy();
  evp.destroy();
  assert.throws(() => fast.tag(0n, 1n, Buffer.alloc(4096), Buffer.alloc(32)), { code: 'DESTROYED' });
});

test('native: the lanes and EVP paths give the format\'s tags for every length from 1 to 50 sectors', { skip: lanesSkip }, () => {
  for (const sectorSize of [512, 4096] as SectorSize[]) {
    const key = randomBytes(32);
    const volumeId = randomBytes(16);
    const fast = openNativeSectorTagger({ key, volumeId, sectorSize })!;
    const evp = openNativeSectorTagger({ key, volumeId, sectorSize }, { evpOnly: true })!;
    for (let count = 1; count <= 50; count++) {
      const firstLba = count === 50 ? MAX_U64 - 49n : randomBytes(8).readBigUInt64LE(0) >> BigInt(randomInt(64));
      const generations = count % 2 ? BigUint64Array.from({ length: count }, () => randomBytes(8).readBigUInt64LE(0)) : BigInt(count);
      const ciphertext = randomBytes(count * sectorSize);
      const byLanes = Buffer.alloc(count * 32);
      const byEvp = Buffer.alloc(count * 32);
      fast.tag(firstLba, generations, ciphertext, byLanes);
      evp.tag(firstLba, generations, ciphertext, byEvp);
      const where = `${count} × ${sectorSize} B at LBA ${firstLba}`;
      assert.ok(byLanes.equals(byEvp), `${where}: the paths' tags differ`);
      const i = randomInt(count);
      const generation = typeof generations === 'bigint' ? generations : generations[i]!;
      const expected = referenceTag(key, volumeId, firstLba + BigInt(i), generation, ciphertext.subarray(i * sectorSize, (i + 1) * sectorSize));
      assert.ok(byLanes.subarray(i * 32, (i + 1) * 32).equals(expected), `${where}: sector ${i}'s tag is not the format's`);
      assert.deepEqual(fast.verify(firstLba, generations, ciphertext, byEvp), [], `${where}: lanes verify EVP's tags`);
      assert.deepEqual(evp.verify(firstLba, generations, ciphertext, byLanes), [], `${where}: EVP verifies the lanes' tags`);
    }
    fast.destroy();
    evp.destroy();
  }
});

test('native: lanes verification names every failing sector, wherever it falls in a group of sixteen', { skip: lanesSkip }, () => {
  const options = { key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 512 as const };
  const fast = openNativeSectorTagger(options)!;
  const count = 150; // two chunks of 64 (four lane groups each), then 22: a group and six one at a time
  const ciphertext = randomBytes(count * 512);
  const tags = Buffer.alloc(count * 32);
  fast.tag(1000n, 5n, ciphertext, tags);
  const bad = [0, 15, 16, 63, 64, 127, 128, 143, 144, 149];
  for (const i of bad) ciphertext[i * 512 + randomInt(512)]! ^= 1 << randomInt(8);
  assert.deepEqual(fast.verify(1000n, 5n, ciphertext, tags), bad.map(BigInt).map((i) => 1000n + i));
  // A tag checked under another generation fails, for every sector of the batch.
  assert.equal(fast.verify(1000n, 6n, ciphertext, tags).length, count);
  fast.destroy();
});

// The native engine's three tag paths (native/sector_crypto.h): sixteen sectors at a time in AVX-512
// lanes, taken where the CPU has AVX-512; two at a time with SHA-NI, taken where it has SHA-NI and
// no AVX-512; and OpenSSL's HMAC one sector at a time, taken elsewhere and for the sectors a batch
// leaves over. Each fast path is held to EVP wherever this CPU can run it: the same tags, each
// verifying the other's, for every batch length around its groups.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { cpuHas, enginesUnderTest } from './engines-under-test.js';
import { MAX_U64, type SectorSize } from './formats.js';
import { openNativeSectorTagger, type NativeTagPath } from './native-engine.js';

const skip = enginesUnderTest()[0]!.skip;

/** The fast paths, the kernel's flags each needs, and the sectors one run of it takes. */
const FAST_PATHS: { path: Exclude<NativeTagPath, 'evp'>; flags: string[]; group: number }[] = [
  { path: 'lanes', flags: ['avx512f', 'avx512bw'], group: 16 },
  { path: 'pairs', flags: ['sha_ni', 'sse4_1', 'ssse3'], group: 2 },
];
const expectedPath = FAST_PATHS.find(({ flags }) => cpuHas(...flags))?.path ?? 'evp';
const skipUnless = (flags: string[]) => skip || (cpuHas(...flags) ? false : `this CPU lacks ${flags.join(', ')}`);

/** The format, written out with Node's HMAC (README: "Integrity: one tag per sector"). */
function referenceTag(key: Uint8Array, volumeId: Uint8Array, lba: bigint, generation: bigint, sector: Uint8Array): Buffer {
  const header = Buffer.alloc(32);
  header.set(volumeId, 0);
  header.writeBigUInt64BE(lba, 16);
  header.writeBigUInt64BE(generation, 24);
  return createHmac('sha256', key).update(header).update(sector).digest();
}

test(`native: an integrity key takes the fastest path this CPU has (here ${expectedPath}), the EVP path when held to it`, { skip }, () => {
  const options = { key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 4096 as const };
  const fast = openNativeSectorTagger(options)!;
  const evp = openNativeSectorTagger(options, { only: 'evp' })!;
  assert.equal(fast.tagPath, expectedPath);
  assert.equal(evp.tagPath, 'evp');
  fast.destroy();
  evp.destroy();
  assert.throws(() => fast.tag(0n, 1n, Buffer.alloc(4096), Buffer.alloc(32)), { code: 'DESTROYED' });
});

for (const { path, flags, group } of FAST_PATHS) {
  test(`native: the ${path} and EVP paths give the format's tags for every length from 1 to 50 sectors`, { skip: skipUnless(flags) }, () => {
    for (const sectorSize of [512, 4096] as SectorSize[]) {
      const key = randomBytes(32);
      const volumeId = randomBytes(16);
      const fast = openNativeSectorTagger({ key, volumeId, sectorSize }, { only: path })!;
      const evp = openNativeSectorTagger({ key, volumeId, sectorSize }, { only: 'evp' })!;
      assert.equal(fast.tagPath, path);
      for (let count = 1; count <= 50; count++) {
        const firstLba = count === 50 ? MAX_U64 - 49n : randomBytes(8).readBigUInt64LE(0) >> BigInt(randomInt(64));
        const generations = count % 2 ? BigUint64Array.from({ length: count }, () => randomBytes(8).readBigUInt64LE(0)) : BigInt(count);
        const ciphertext = randomBytes(count * sectorSize);
        const byFast = Buffer.alloc(count * 32);
        const byEvp = Buffer.alloc(count * 32);
        fast.tag(firstLba, generations, ciphertext, byFast);
        evp.tag(firstLba, generations, ciphertext, byEvp);
        const where = `${count} × ${sectorSize} B at LBA ${firstLba}`;
        assert.ok(byFast.equals(byEvp), `${where}: the paths' tags differ`);
        for (const i of new Set([0, randomInt(count), count - 1])) {
          const generation = typeof generations === 'bigint' ? generations : generations[i]!;
          const expected = referenceTag(key, volumeId, firstLba + BigInt(i), generation, ciphertext.subarray(i * sectorSize, (i + 1) * sectorSize));
          assert.ok(byFast.subarray(i * 32, (i + 1) * 32).equals(expected), `${where}: sector ${i}'s tag is not the format's`);
        }
        assert.deepEqual(fast.verify(firstLba, generations, ciphertext, byEvp), [], `${where}: ${path} verifies EVP's tags`);
        assert.deepEqual(evp.verify(firstLba, generations, ciphertext, byFast), [], `${where}: EVP verifies the ${path} path's tags`);
      }
      fast.destroy();
      evp.destroy();
    }
  });

  test(`native: ${path} verification names every failing sector, wherever it falls in a run of ${group}`, { skip: skipUnless(flags) }, () => {
    const options = { key: randomBytes(32), volumeId: randomBytes(16), sectorSize: 512 as const };
    const fast = openNativeSectorTagger(options, { only: path })!;
    const count = 150; // two chunks of 64, then 22 (for lanes: a group and six one at a time)
    const ciphertext = randomBytes(count * 512);
    const tags = Buffer.alloc(count * 32);
    fast.tag(1000n, 5n, ciphertext, tags);
    const bad = [0, 1, 15, 16, 63, 64, 127, 128, 143, 144, 148, 149];
    for (const i of bad) ciphertext[i * 512 + randomInt(512)]! ^= 1 << randomInt(8);
    assert.deepEqual(fast.verify(1000n, 5n, ciphertext, tags), bad.map(BigInt).map((i) => 1000n + i));
    // A tag checked under another generation fails, for every sector of the batch.
    assert.equal(fast.verify(1000n, 6n, ciphertext, tags).length, count);
    fast.destroy();
  });
}

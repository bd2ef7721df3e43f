// The root of a volume's tags as SectorFiles computes it, read a chunk at a time and hashed by
// whole subtrees on the native engine: the same as the RFC 6962 root over every tag in LBA order
// (zeros for unwritten and zeroed sectors), across the chunks it reads and for a sector changed in
// each; what the service records at a volume's open and close, and what a volume attestation signs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { merkleRoot, TAG_BYTES } from '@sealkeep/crypto';
import { SectorFiles } from './sector-files.js';
import { temporaryDirectory } from '../test-kit.fixture.js';

test("tagsRoot is the RFC 6962 root over every sector's tag, across the chunks it reads", async () => {
  const tmp = temporaryDirectory('sector-files');
  const sectors = (1 << 16) * 2 + 3; // two whole chunks and three sectors of a third
  const files = await SectorFiles.open(tmp.dir, 512, sectors, true);
  try {
    const expected = Buffer.alloc(sectors * TAG_BYTES);
    assert.deepEqual(await files.tagsRoot(sectors), merkleRoot(expected), 'a new volume: every tag zeros');
    for (const lba of [0, (1 << 16) - 1, 1 << 16, sectors - 1]) {
      const tags = randomBytes(TAG_BYTES);
      await files.apply([{ kind: 'sectors', firstLba: lba, words: BigUint64Array.of(1n), tags, ciphertext: randomBytes(512) }]);
      tags.copy(expected, lba * TAG_BYTES);
      assert.deepEqual(await files.tagsRoot(sectors), merkleRoot(expected), `sector ${lba} written`);
    }
    await files.apply([{ kind: 'zeroes', firstLba: 0, words: BigUint64Array.of(2n | (1n << 63n)), tags: null, ciphertext: null }]);
    expected.fill(0, 0, TAG_BYTES);
    assert.deepEqual(await files.tagsRoot(sectors), merkleRoot(expected), 'a zeroed sector: its tag zeros');
  } finally {
    await files.close();
    tmp.remove();
  }
});

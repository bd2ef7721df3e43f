// The volume state root as SectorFiles computes it (chunk-state.ts: every sector's tag and
// generation word), read a chunk at a time and hashed by whole subtrees on the native engine: the
// same as computed from scratch over the whole tag file, across the chunks it reads and for a
// sector changed in each; what the service records at a volume's open, checkpoints and close.
// Whole chunks' roots are kept from one call to the next, and only chunks written since are read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { TAG_BYTES } from '@sealkeep/crypto';
import { SectorFiles, TAGS_FILE } from './sector-files.js';
import { setEntry, TAG_ENTRY_BYTES } from './sector-state.js';
import { stateRootOf, temporaryDirectory } from '../test-kit.fixture.js';

test("stateRoot covers every sector's tag and generation word, across the chunks it reads", async () => {
  const tmp = temporaryDirectory('sector-files');
  const sectors = (1 << 16) * 2 + 3; // two whole chunks and three sectors of a third
  const files = await SectorFiles.open(tmp.dir, 512, sectors, true);
  try {
    const expected = Buffer.alloc(sectors * TAG_ENTRY_BYTES);
    assert.deepEqual(await files.stateRoot(sectors), stateRootOf(expected, sectors), 'a new volume: every entry zeros');
    for (const lba of [0, (1 << 16) - 1, 1 << 16, sectors - 1]) {
      const tags = randomBytes(TAG_BYTES);
      await files.apply([{ kind: 'sectors', firstLba: lba, words: BigUint64Array.of(1n), tags, ciphertext: randomBytes(512) }]);
      setEntry(expected, lba, 1n, tags);
      assert.deepEqual(await files.stateRoot(sectors), stateRootOf(expected, sectors), `sector ${lba} written`);
    }
    const zeroedWord = 2n | (1n << 63n);
    await files.apply([{ kind: 'zeroes', firstLba: 0, words: BigUint64Array.of(zeroedWord), tags: null, ciphertext: null }]);
    setEntry(expected, 0, zeroedWord, null);
    const zeroed = await files.stateRoot(sectors);
    assert.deepEqual(zeroed, stateRootOf(expected, sectors), 'a zeroed sector: its tag zeros, its word kept');
    // Only the word differs (another zeroing's generation): another root. The tags alone would not show it.
    await files.apply([{ kind: 'zeroes', firstLba: 0, words: BigUint64Array.of(zeroedWord + 1n), tags: null, ciphertext: null }]);
    assert.notDeepEqual(await files.stateRoot(sectors), zeroed);
  } finally {
    await files.close();
    tmp.remove();
  }
});

test('stateRoot keeps the roots of whole chunks it read: at close it reads only the chunks written since, and a change made behind its back elsewhere is not taken in', async () => {
  const tmp = temporaryDirectory('sector-files-kept');
  const sectors = (1 << 16) * 3; // three whole chunks
  const files = await SectorFiles.open(tmp.dir, 512, sectors, true);
  try {
    const expected = Buffer.alloc(sectors * TAG_ENTRY_BYTES);
    const atOpen = await files.stateRoot(sectors);
    assert.deepEqual(atOpen, stateRootOf(expected, sectors));
    // Someone else writes a tag entry into the third chunk while the volume is served.
    const behind = await open(path.join(tmp.dir, TAGS_FILE), 'r+');
    await behind.write(Buffer.alloc(TAG_ENTRY_BYTES, 0x77), 0, TAG_ENTRY_BYTES, (2 << 16) * TAG_ENTRY_BYTES);
    await behind.close();
    assert.deepEqual(await files.stateRoot(sectors), atOpen, 'the kept root stands: the change is not read');
    // The adapter writes into the first chunk: that chunk is read again, the third still is not.
    const tags = randomBytes(TAG_BYTES);
    await files.apply([{ kind: 'sectors', firstLba: 5, words: BigUint64Array.of(1n), tags, ciphertext: randomBytes(512) }]);
    setEntry(expected, 5, 1n, tags);
    assert.deepEqual(await files.stateRoot(sectors), stateRootOf(expected, sectors), 'its own write is in the root, the change behind its back is not');
    // Opened again (the next open), everything is read: the change is there.
    const reopened = await SectorFiles.open(tmp.dir, 512, sectors, false);
    try {
      const seen = Buffer.from(expected);
      Buffer.alloc(TAG_ENTRY_BYTES, 0x77).copy(seen, (2 << 16) * TAG_ENTRY_BYTES);
      assert.deepEqual(await reopened.stateRoot(sectors), stateRootOf(seen, sectors));
    } finally {
      await reopened.close();
    }
  } finally {
    await files.close();
    tmp.remove();
  }
});

test('a large volume\'s root is hashed on worker threads: the same root as on the event loop, and kept for the close', async () => {
  const tmp = temporaryDirectory('sector-files-workers');
  const sectors = (1 << 16) * 18 + 5; // eighteen whole chunks and five sectors
  const files = await SectorFiles.open(tmp.dir, 4096, sectors, true);
  try {
    for (const lba of [3, (1 << 16) * 7 + 11, (1 << 16) * 17, sectors - 1]) {
      await files.apply([{ kind: 'sectors', firstLba: lba, words: BigUint64Array.of(1n), tags: randomBytes(TAG_BYTES), ciphertext: randomBytes(4096) }]);
    }
    const other = await SectorFiles.open(tmp.dir, 4096, sectors, false);
    const onLoop = await other.stateRoot(sectors, Infinity).finally(() => other.close());
    assert.deepEqual(await files.stateRoot(sectors, 1), onLoop);
    // An entry changed behind its back in a whole chunk: a root read again would show it; a kept one does not.
    const behind = await open(path.join(tmp.dir, TAGS_FILE), 'r+');
    await behind.write(Buffer.alloc(TAG_ENTRY_BYTES, 0x55), 0, TAG_ENTRY_BYTES, ((1 << 16) * 4 + 9) * TAG_ENTRY_BYTES);
    await behind.close();
    assert.deepEqual(await files.stateRoot(sectors, 1), onLoop, 'the roots the workers read are kept, and not read again');
  } finally {
    await files.close();
    tmp.remove();
  }
});

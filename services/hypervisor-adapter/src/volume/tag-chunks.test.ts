// Chunk roots saved at a clean close (tags.roots) and adopted at the next open: the file's format
// and what makes it unusable; the root composed from adopted roots without reading their chunks;
// a chunk checked against its adopted root when a request reaches it, on the event loop or, for
// many, on worker threads, and all of them in the background; TagsAlteredError for a chunk whose
// tags differ, for good; distrusted roots dropped and their chunks read again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { TAG_BYTES } from '@sealkeep/crypto';
import { decodeChunkRoots, encodeChunkRoots, ROOTS_FILE } from './chunk-roots.js';
import { SectorFiles, TAGS_FILE } from './sector-files.js';
import { setEntry, TAG_ENTRY_BYTES } from './sector-state.js';
import { CHUNK_SECTORS, TagChunks, TagsAlteredError } from './tag-chunks.js';
import { stateRootOf, temporaryDirectory } from '../test-kit.fixture.js';

test('the roots file: read back as written; another geometry, another length or a damaged byte make it unusable', () => {
  const roots = [randomBytes(32), randomBytes(32)];
  const file = encodeChunkRoots(2 * CHUNK_SECTORS + 7, CHUNK_SECTORS, roots);
  assert.equal(file.length, 16 + 64 + 32);
  assert.deepEqual(decodeChunkRoots(file, 2 * CHUNK_SECTORS + 7, CHUNK_SECTORS), roots);
  assert.deepEqual(decodeChunkRoots(file, 2 * CHUNK_SECTORS + 8, CHUNK_SECTORS), { unusable: 'of another version or volume geometry' });
  assert.deepEqual(decodeChunkRoots(file, 3 * CHUNK_SECTORS, CHUNK_SECTORS), { unusable: 'not a chunk roots file of this volume' });
  for (const at of [0, 4, 20, file.length - 1]) {
    const damaged = Buffer.from(file);
    damaged[at]! ^= 1;
    assert.ok('unusable' in decodeChunkRoots(damaged, 2 * CHUNK_SECTORS + 7, CHUNK_SECTORS), `byte ${at}`);
  }
});

/** A volume of `chunks` whole chunks and a tail, a sector written in each chunk, its roots saved as a clean close saves them; then opened again. */
async function savedVolume(dir: string, chunks: number) {
  const sectors = chunks * CHUNK_SECTORS + 3;
  const expected = Buffer.alloc(sectors * TAG_ENTRY_BYTES);
  const first = await SectorFiles.open(dir, 512, sectors, true);
  for (let chunk = 0; chunk <= chunks; chunk++) {
    const lba = Math.min(chunk * CHUNK_SECTORS + 1, sectors - 1);
    const tags = randomBytes(TAG_BYTES);
    await first.apply([{ kind: 'sectors', firstLba: lba, words: BigUint64Array.of(1n), tags, ciphertext: randomBytes(512) }]);
    setEntry(expected, lba, 1n, tags);
  }
  assert.deepEqual(await first.stateRoot(sectors), stateRootOf(expected, sectors));
  await first.saveRoots(sectors);
  await first.close();
  const files = await SectorFiles.open(dir, 512, sectors, false);
  return { files, sectors, root: stateRootOf(expected, sectors) };
}

async function changeEntry(dir: string, lba: number): Promise<void> {
  const tags = await open(path.join(dir, TAGS_FILE), 'r+');
  await tags.write(Buffer.alloc(TAG_ENTRY_BYTES, 0x66), 0, TAG_ENTRY_BYTES, lba * TAG_ENTRY_BYTES);
  await tags.close();
}

test('adopted roots compose the root without reading their chunks; a chunk is checked when reached, and one altered is refused for good', async () => {
  const tmp = temporaryDirectory('tag-chunks');
  const { files, sectors, root } = await savedVolume(tmp.dir, 3);
  try {
    assert.equal(await files.adoptSavedRoots(sectors, assert.fail), 3);
    assert.equal(existsSync(path.join(tmp.dir, ROOTS_FILE)), false, 'taken: the file is gone');
    await changeEntry(tmp.dir, 2 * CHUNK_SECTORS + 9);
    assert.deepEqual(await files.stateRoot(sectors), root, 'composed from the adopted roots: the change is not read');
    assert.equal(files.chunks.unchecked, 3);
    await files.chunks.check(5, 10);
    assert.equal(files.chunks.unchecked, 2, 'chunk 0 checked');
    await files.chunks.check(CHUNK_SECTORS - 1, 2);
    assert.equal(files.chunks.unchecked, 1, 'a run across two chunks checks both');
    await assert.rejects(files.chunks.check(2 * CHUNK_SECTORS + 100, 1), (e: unknown) => e instanceof TagsAlteredError && e.chunk === 2);
    await assert.rejects(files.chunks.check(0, 1), TagsAlteredError, 'and from then on');
  } finally {
    await files.close();
    tmp.remove();
  }
});

test('many chunks are checked on worker threads, and all of them in the background; an abort stops the background check', async () => {
  const tmp = temporaryDirectory('tag-chunks-workers');
  const { files, sectors, root } = await savedVolume(tmp.dir, 18);
  try {
    await files.adoptSavedRoots(sectors, assert.fail);
    await files.chunks.check(0, sectors);
    assert.equal(files.chunks.unchecked, 0, 'a request over every chunk checks them all');
    assert.deepEqual(await files.stateRoot(sectors), root);
    await files.saveRoots(sectors);
  } finally {
    await files.close();
  }
  const later = await SectorFiles.open(tmp.dir, 512, sectors, false);
  try {
    await later.adoptSavedRoots(sectors, assert.fail);
    const stopped = new AbortController();
    stopped.abort(new Error('closing'));
    await assert.rejects(later.chunks.checkAll(stopped.signal), /closing/);
    assert.equal(later.chunks.unchecked, 18);
    await changeEntry(tmp.dir, 17 * CHUNK_SECTORS + 3);
    await assert.rejects(later.chunks.checkAll(new AbortController().signal), (e: unknown) => e instanceof TagsAlteredError && e.chunk === 17);
    assert.equal(later.chunks.unchecked, 1, 'every chunk before it checked');
  } finally {
    await later.close();
    tmp.remove();
  }
});

test('distrusted roots are dropped and their chunks read; an unusable file is reported and read as absent', async () => {
  const tmp = temporaryDirectory('tag-chunks-distrust');
  const { files, sectors, root } = await savedVolume(tmp.dir, 2);
  try {
    await files.adoptSavedRoots(sectors, assert.fail);
    await changeEntry(tmp.dir, CHUNK_SECTORS + 1);
    assert.deepEqual(await files.stateRoot(sectors), root);
    files.chunks.distrust();
    assert.equal(files.chunks.unchecked, 0);
    assert.notDeepEqual(await files.stateRoot(sectors), root, 'read: the change is seen');
    writeFileSync(path.join(tmp.dir, ROOTS_FILE), 'not roots');
    const why: string[] = [];
    assert.equal(await files.adoptSavedRoots(sectors, (w) => why.push(w)), 0);
    assert.deepEqual(why, ['not a chunk roots file of this volume']);
    assert.equal(existsSync(path.join(tmp.dir, ROOTS_FILE)), false);
  } finally {
    await files.close();
    tmp.remove();
  }
});

test('the root before some changes puts back the first entry each listed sector had, in every chunk they reach (across a chunk boundary, in the tail), on the event loop and on workers, and keeps no root it undid', async () => {
  const tmp = temporaryDirectory('tag-chunks-before');
  const sectors = 3 * CHUNK_SECTORS + 5;
  const files = await SectorFiles.open(tmp.dir, 512, sectors, true);
  try {
    const entries = Buffer.alloc(sectors * TAG_ENTRY_BYTES);
    const write = async (firstLba: number, count: number, word: bigint) => {
      const previous = Buffer.from(entries.subarray(firstLba * TAG_ENTRY_BYTES, (firstLba + count) * TAG_ENTRY_BYTES));
      const tags = randomBytes(count * TAG_BYTES);
      await files.apply([{ kind: 'sectors', firstLba, words: new BigUint64Array(count).fill(word), tags, ciphertext: randomBytes(count * 512) }]);
      for (let i = 0; i < count; i++) setEntry(entries, firstLba + i, word, tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES));
      return { firstLba, previous };
    };
    await write(7, 1, 1n);
    await write(CHUNK_SECTORS + 9, 1, 1n);
    assert.deepEqual(await files.stateRoot(sectors), stateRootOf(entries, sectors), 'every chunk read, its root kept');
    await write(2 * CHUNK_SECTORS + 1, 1, 1n); // (chunk 2's root dropped: the changes do not reach it, the workers read it)
    const rootBefore = stateRootOf(entries, sectors);
    const changes = [
      await write(CHUNK_SECTORS - 2, 4, 2n), // across the boundary of chunks 0 and 1
      await write(7, 1, 2n),
      await write(7, 1, 3n), // the same sector again: the first change's entry before is the one put back
      await write(3 * CHUNK_SECTORS + 4, 1, 1n), // the tail
    ];
    const after = stateRootOf(entries, sectors);
    assert.notDeepEqual(after, rootBefore);
    // Which chunks are read on the event loop: over the same file, a TagChunks that notes each read.
    const readOnLoop = (workerChunks: number) => {
      const read = new Set<number>();
      const chunks = new TagChunks((first, count) => (read.add(Math.floor(first / CHUNK_SECTORS)), files.readEntries(first, count)), path.join(tmp.dir, TAGS_FILE));
      return chunks.rootBefore(sectors, () => changes, workerChunks).then((root) => ({ root, read: [...read].sort() }));
    };
    assert.deepEqual(await readOnLoop(1), { root: rootBefore, read: [0, 1, 3] }, 'the chunk out of reach on workers, the ones reached and the tail on the loop');
    assert.deepEqual(await readOnLoop(Infinity), { root: rootBefore, read: [0, 1, 2, 3] }, 'every chunk on the loop');
    assert.deepEqual(await files.chunks.rootBefore(sectors, () => changes, 1), rootBefore, 'the chunks out of reach on workers');
    files.chunks.written(2 * CHUNK_SECTORS + 1, 1); // (chunk 2's kept root dropped again, as a write drops it)
    assert.deepEqual(await files.chunks.rootBefore(sectors, () => changes, Infinity), rootBefore, 'on the event loop');
    assert.deepEqual(await files.stateRoot(sectors), after, 'no undone root was kept as the file\'s');
    assert.deepEqual(await files.chunks.rootBefore(sectors, () => changes.slice(3)), stateRootOf(Buffer.concat([entries.subarray(0, (3 * CHUNK_SECTORS + 4) * TAG_ENTRY_BYTES), Buffer.alloc(TAG_ENTRY_BYTES), entries.subarray((3 * CHUNK_SECTORS + 5) * TAG_ENTRY_BYTES)]), sectors), 'only the tail undone');
  } finally {
    await files.close();
    tmp.remove();
  }
});

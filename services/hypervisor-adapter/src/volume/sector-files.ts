// The two files that hold a volume at rest, both sparse and of fixed size:
//   data   the ciphertext, sector LBA at byte LBA × S
//   tags   one 40-byte entry per sector at LBA × 40: generation word ‖ tag (sector-state.ts)
// They are written only by applying journal records that are already durable, so whatever a
// crash leaves in them, replaying the journal puts right.
// Tag entries are read with synchronous pread: they are small and come from the page cache, where
// a thread-pool round trip costs several times the copy (PERFORMANCE.md). Ciphertext,
// which may not be cached, is read asynchronously; changes are applied asynchronously too, as a
// write-back runs beside requests (~95 MB into pages not cached yet took ~250 ms here); fdatasync
// always is.
// The volume's state root over the tags and its chunks' roots are tag-chunks.ts's: apply() tells it which
// entries it writes. A clean close leaves the chunks' roots in a third file, tags.roots, which the
// next open adopts and removes (chunk-roots.ts).

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SectorChange } from './journal-record.js';
import { encodeEntries, TAG_ENTRY_BYTES } from './sector-state.js';
import { CHUNK_SECTORS, TagChunks, type EntriesBefore } from './tag-chunks.js';
import { saveChunkRoots, takeChunkRoots } from './chunk-roots.js';
import { readFully, readFullySync } from './read-fully.js';
import { allOrFirstFailure } from '../settle.js';

/** What a change writes into the files: the journal's entries before it and authenticator are not. */
export type FileChange = Omit<SectorChange, 'previous' | 'authenticator'>;

export const DATA_FILE = 'data';
export const TAGS_FILE = 'tags';


/** Writes every buffer, one after another from `position`, in as few writev calls as the kernel allows. */
async function writevFully(file: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let { bytesWritten } = await file.writev(rest, position);
    position += bytesWritten;
    while (rest.length > 0 && bytesWritten >= rest[0]!.length) bytesWritten -= rest.shift()!.length;
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}

export class SectorFiles {
  readonly #data: FileHandle;
  readonly #tags: FileHandle;
  readonly #sectorSize: number;
  readonly #dir: string;
  /** The tag file's chunks and their roots. */
  readonly chunks: TagChunks;

  private constructor(dir: string, data: FileHandle, tags: FileHandle, sectorSize: number, tagsPath: string) {
    this.#dir = dir;
    this.#data = data;
    this.#tags = tags;
    this.#sectorSize = sectorSize;
    this.chunks = new TagChunks((first, count) => this.readEntries(first, count), tagsPath);
  }

  /** Opens the files of a volume; `create` makes them anew (empty, sparse, sized for the volume). */
  static async open(dir: string, sectorSize: number, sectorCount: number, create: boolean): Promise<SectorFiles> {
    const flags = constants.O_RDWR | (create ? constants.O_CREAT | constants.O_TRUNC : 0);
    const data = await open(path.join(dir, DATA_FILE), flags, 0o600);
    const tagsPath = path.join(dir, TAGS_FILE);
    const tags = await open(tagsPath, flags, 0o600).catch(async (error: unknown) => {
      await data.close();
      throw error;
    });
    if (create) {
      await data.truncate(sectorCount * sectorSize);
      await tags.truncate(sectorCount * TAG_ENTRY_BYTES);
    }
    return new SectorFiles(dir, data, tags, sectorSize, tagsPath);
  }

  /** The ciphertext of `count` sectors from `firstLba`, read into `into` (zeros where the file is short). */
  async readCiphertext(firstLba: number, count: number, into: Buffer): Promise<void> {
    const length = count * this.#sectorSize;
    const got = await readFully(this.#data, firstLba * this.#sectorSize, length, into);
    if (got.length < length) into.fill(0, got.length, length);
  }

  /** The tag-file entries of `count` sectors from `firstLba` (zeros where the file is short). */
  readEntries(firstLba: number, count: number): Buffer {
    const length = count * TAG_ENTRY_BYTES;
    const got = readFullySync(this.#tags, firstLba * TAG_ENTRY_BYTES, length);
    return got.length === length ? got : Buffer.concat([got, Buffer.alloc(length - got.length)]);
  }

  /** The volume's state root (chunk-state.ts: every sector's tag and generation word), what a volume state record holds (TagChunks.root). */
  stateRoot(sectorCount: number, workerChunks?: number): Promise<Buffer> {
    return this.chunks.root(sectorCount, workerChunks);
  }

  /** The state root as it was before the changes `undo()` lists, in journal order (TagChunks.rootBefore). */
  stateRootBefore(sectorCount: number, undo: () => readonly EntriesBefore[]): Promise<Buffer> {
    return this.chunks.rootBefore(sectorCount, undo);
  }

  /**
   * Adopts the chunk roots the last clean close left (tags.roots, removed durably here), unchecked
   * until read; `unusable` hears why a file there cannot be used. How many chunks it adopted.
   */
  async adoptSavedRoots(sectorCount: number, unusable: (why: string) => void): Promise<number> {
    const roots = await takeChunkRoots(this.#dir, sectorCount, CHUNK_SECTORS, unusable);
    if (roots) this.chunks.adopt(roots);
    return roots?.length ?? 0;
  }

  /** Leaves every whole chunk's root in tags.roots for the next open, once stateRoot() has run at a clean close. */
  async saveRoots(sectorCount: number): Promise<void> {
    const roots = this.chunks.wholeRoots(sectorCount);
    if (roots && roots.length > 0) await saveChunkRoots(this.#dir, sectorCount, CHUNK_SECTORS, roots);
  }

  /**
   * Writes journaled changes' sectors and entries in place, in journal order; a run of changes of
   * one kind that continue one another goes in one writev per file (a sequential burst: a few
   * calls). Zeroed sectors keep their old ciphertext: it is never read again.
   */
  async apply(changes: readonly FileChange[]): Promise<void> {
    for (let start = 0; start < changes.length; ) {
      const first = changes[start]!;
      let end = start + 1;
      for (let last = first; end < changes.length; end++) {
        const next = changes[end]!;
        if (next.kind !== first.kind || next.firstLba !== last.firstLba + last.words.length) break;
        last = next;
      }
      const run = changes.slice(start, end);
      start = end;
      // Dropped before the write and again after it: a root read while the write runs is not kept.
      const sectors = run.reduce((n, c) => n + c.words.length, 0);
      this.chunks.written(first.firstLba, sectors);
      // Settled, not raced: the ciphertext may go back to the pool once this returns, so no write may still read it.
      try {
        await allOrFirstFailure([
          first.kind === 'sectors' ? writevFully(this.#data, run.map((c) => c.ciphertext!), first.firstLba * this.#sectorSize) : Promise.resolve(),
          writevFully(this.#tags, run.map((c) => encodeEntries(c.words, c.tags)), first.firstLba * TAG_ENTRY_BYTES),
        ]);
      } finally {
        this.chunks.written(first.firstLba, sectors);
      }
    }
  }

  /** Both files on stable storage (fdatasync). */
  async sync(): Promise<void> {
    await Promise.all([this.#data.datasync(), this.#tags.datasync()]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#data.close(), this.#tags.close()]);
  }
}

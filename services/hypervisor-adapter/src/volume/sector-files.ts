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

import { constants, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SectorChange } from './journal-record.js';
import { MerkleRootBuilder, selectBlockCryptoEngine } from '@sealkeep/crypto';
import { decodeEntries, encodeEntries, TAG_ENTRY_BYTES } from './sector-state.js';

export const DATA_FILE = 'data';
/** Tag-file entries tagsRoot() reads at a time (2.5 MiB). */
const TAGS_READ_SECTORS = 1 << 16;
export const TAGS_FILE = 'tags';

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
export async function readFully(file: FileHandle, position: number, length: number, into?: Buffer): Promise<Buffer> {
  const buffer = into ?? Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** Synchronous pread of up to `length` bytes; shorter only at the end of the file. */
export function readFullySync(file: FileHandle, position: number, length: number, into: Buffer = Buffer.alloc(length)): Buffer {
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(file.fd, into, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? into : into.subarray(0, filled);
}

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

  private constructor(data: FileHandle, tags: FileHandle, sectorSize: number) {
    this.#data = data;
    this.#tags = tags;
    this.#sectorSize = sectorSize;
  }

  /** Opens the files of a volume; `create` makes them anew (empty, sparse, sized for the volume). */
  static async open(dir: string, sectorSize: number, sectorCount: number, create: boolean): Promise<SectorFiles> {
    const flags = constants.O_RDWR | (create ? constants.O_CREAT | constants.O_TRUNC : 0);
    const data = await open(path.join(dir, DATA_FILE), flags, 0o600);
    const tags = await open(path.join(dir, TAGS_FILE), flags, 0o600).catch(async (error: unknown) => {
      await data.close();
      throw error;
    });
    if (create) {
      await data.truncate(sectorCount * sectorSize);
      await tags.truncate(sectorCount * TAG_ENTRY_BYTES);
    }
    return new SectorFiles(data, tags, sectorSize);
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

  /**
   * The RFC 6962 Merkle root over every sector's tag in LBA order (zeros for unwritten and zeroed
   * sectors): what a volume state record and a volume attestation cover. Read 2.5 MiB at a time
   * and hashed by whole subtrees on the native engine, so memory stays small however large the
   * volume (an 8 GiB volume of 4 KiB sectors: 80 MiB of tag file, 2^21 leaves); between chunks
   * other volumes' requests get their turn.
   */
  async tagsRoot(sectorCount: number): Promise<Buffer> {
    const engine = selectBlockCryptoEngine();
    const root = new MerkleRootBuilder();
    for (let first = 0; first < sectorCount; first += TAGS_READ_SECTORS) {
      if (first > 0) await new Promise((resolve) => setImmediate(resolve));
      const count = Math.min(TAGS_READ_SECTORS, sectorCount - first);
      root.appendHashed(decodeEntries(this.readEntries(first, count), count).tags, (tags) => engine.merkleRoot(tags));
    }
    return root.root();
  }

  /**
   * Writes journaled changes' sectors and entries in place, in journal order; a run of changes of
   * one kind that continue one another goes in one writev per file (a sequential burst: a few
   * calls). Zeroed sectors keep their old ciphertext: it is never read again.
   */
  async apply(changes: readonly SectorChange[]): Promise<void> {
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
      // Settled, not raced: the ciphertext may go back to the pool once this returns, so no write may still read it.
      const written = await Promise.allSettled([
        first.kind === 'sectors' ? writevFully(this.#data, run.map((c) => c.ciphertext!), first.firstLba * this.#sectorSize) : undefined,
        writevFully(this.#tags, run.map((c) => encodeEntries(c.words, c.tags)), first.firstLba * TAG_ENTRY_BYTES),
      ]);
      const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
      if (failed) throw failed.reason;
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

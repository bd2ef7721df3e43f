// The two files that hold a volume at rest, both sparse and of fixed size:
//   data   the ciphertext, sector LBA at byte LBA × S
//   tags   one 40-byte entry per sector at LBA × 40: generation word ‖ tag (sector-state.ts)
// They are written only by applying journal records that are already durable, so whatever a
// crash leaves in them, replaying the journal puts right.
// Tag entries are read with synchronous pread: they are small and come from the page cache, where
// a thread-pool round trip costs several times the copy (README.md, "Performance"). Ciphertext,
// which may not be cached, is read asynchronously; changes are applied asynchronously too, as a
// write-back runs beside requests (~95 MB into pages not cached yet took ~250 ms here); fdatasync
// always is.

import { constants, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SectorChange } from './journal-record.js';
import { encodeEntries, TAG_ENTRY_BYTES } from './sector-state.js';

export const DATA_FILE = 'data';
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

async function writeFully(file: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) written += (await file.write(data, written, data.length - written, position + written)).bytesWritten;
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

  /** Writes a journaled change's sectors and entries in place. Zeroed sectors keep their old ciphertext: it is never read again. */
  async apply(change: SectorChange): Promise<void> {
    if (change.kind === 'checkpoint') return;
    await Promise.all([
      change.ciphertext ? writeFully(this.#data, change.ciphertext, change.firstLba * this.#sectorSize) : undefined,
      writeFully(this.#tags, encodeEntries(change.words, change.tags), change.firstLba * TAG_ENTRY_BYTES),
    ]);
  }

  /** Both files on stable storage (fdatasync). */
  async sync(): Promise<void> {
    await Promise.all([this.#data.datasync(), this.#tags.datasync()]);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#data.close(), this.#tags.close()]);
  }
}

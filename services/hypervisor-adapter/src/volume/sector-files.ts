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
// The root over the tags (tagsRoot) is read from the whole tag file once, at open (on worker
// threads when the volume is large: chunk-hashing.ts); each complete chunk's subtree root is
// kept, and a chunk is read again only after a write to its entries, so a clean close reads what
// the session wrote, not the whole volume — and records the tags as this process wrote them, not
// as someone else may have changed the file since.

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { SectorChange } from './journal-record.js';
import { MerkleRootBuilder, selectBlockCryptoEngine } from '@sealkeep/crypto';
import { decodeEntries, encodeEntries, TAG_ENTRY_BYTES } from './sector-state.js';
import { hashChunks } from './chunk-hashing.js';
import { readFully, readFullySync } from './read-fully.js';
import { allOrFirstFailure } from '../settle.js';

export const DATA_FILE = 'data';
/** Tag-file entries tagsRoot() reads at a time (2.5 MiB): a complete subtree of the tags' tree, whose root is kept. */
const TAGS_CHUNK_SECTORS = 1 << 16;
/** From this many whole chunks to read, tagsRoot() hashes them on worker threads (chunk-hashing.ts), not on the event loop. */
const WORKER_CHUNKS = 16;
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
  readonly #tagsPath: string;
  /** Complete chunks' subtree roots (by chunk number) as tagsRoot read them; a write to a chunk's entries drops its root. */
  readonly #chunkRoots = new Map<number, Buffer>();
  /** Writes to the tag file so far, and the count at each chunk's last one: a root read before it is not kept. */
  #writes = 0;
  readonly #writtenAt = new Map<number, number>();

  private constructor(data: FileHandle, tags: FileHandle, sectorSize: number, tagsPath: string) {
    this.#data = data;
    this.#tags = tags;
    this.#sectorSize = sectorSize;
    this.#tagsPath = tagsPath;
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
    return new SectorFiles(data, tags, sectorSize, tagsPath);
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
   * other volumes' requests get their turn. A complete chunk whose root was kept, and not written
   * since, is not read again; when `workerChunks` or more must be read (opening a large volume),
   * they are hashed on worker threads, off the event loop and on every core.
   */
  async tagsRoot(sectorCount: number, workerChunks = WORKER_CHUNKS): Promise<Buffer> {
    const engine = selectBlockCryptoEngine();
    const whole = Math.floor(sectorCount / TAGS_CHUNK_SECTORS);
    const unread = Array.from({ length: whole }, (_, chunk) => chunk).filter((chunk) => !this.#chunkRoots.has(chunk));
    if (unread.length >= workerChunks) {
      const since = this.#writes;
      const roots = await hashChunks(this.#tagsPath, unread.map((chunk) => ({ first: chunk * TAGS_CHUNK_SECTORS, count: TAGS_CHUNK_SECTORS })));
      // A chunk written to while the workers read it keeps no root: it is read again below.
      unread.forEach((chunk, i) => {
        if ((this.#writtenAt.get(chunk) ?? 0) <= since) this.#chunkRoots.set(chunk, roots[i]!);
      });
    }
    const root = new MerkleRootBuilder();
    for (let chunk = 0, first = 0; first < sectorCount; chunk++, first += TAGS_CHUNK_SECTORS) {
      const count = Math.min(TAGS_CHUNK_SECTORS, sectorCount - first);
      const kept = count === TAGS_CHUNK_SECTORS ? this.#chunkRoots.get(chunk) : undefined;
      if (kept) {
        root.appendSubtree(count, kept);
        continue;
      }
      if (first > 0) await new Promise((resolve) => setImmediate(resolve));
      const tags = decodeEntries(this.readEntries(first, count), count).tags;
      if (count < TAGS_CHUNK_SECTORS) root.appendHashed(tags, (t) => engine.merkleRoot(t));
      else {
        const hash = engine.merkleRoot(tags);
        this.#chunkRoots.set(chunk, hash);
        root.appendSubtree(count, hash);
      }
    }
    return root.root();
  }

  /** Drops the kept roots of the chunks that `count` entries from `firstLba` fall in, and notes when. */
  #forgetChunks(firstLba: number, count: number): void {
    const at = ++this.#writes;
    const last = Math.floor((firstLba + count - 1) / TAGS_CHUNK_SECTORS);
    for (let chunk = Math.floor(firstLba / TAGS_CHUNK_SECTORS); chunk <= last; chunk++) {
      this.#chunkRoots.delete(chunk);
      this.#writtenAt.set(chunk, at);
    }
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
      // Dropped before the write and again after it: a root read while the write runs is not kept.
      const sectors = run.reduce((n, c) => n + c.words.length, 0);
      this.#forgetChunks(first.firstLba, sectors);
      // Settled, not raced: the ciphertext may go back to the pool once this returns, so no write may still read it.
      try {
        await allOrFirstFailure([
          first.kind === 'sectors' ? writevFully(this.#data, run.map((c) => c.ciphertext!), first.firstLba * this.#sectorSize) : Promise.resolve(),
          writevFully(this.#tags, run.map((c) => encodeEntries(c.words, c.tags)), first.firstLba * TAG_ENTRY_BYTES),
        ]);
      } finally {
        this.#forgetChunks(first.firstLba, sectors);
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

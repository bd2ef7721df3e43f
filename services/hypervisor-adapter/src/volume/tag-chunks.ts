// A volume's tag file as chunks of 2^16 sectors (2.5 MiB of entries), and the root of each whole
// chunk (chunk-state.ts: its tags and generation words), kept once known; the volume's state root
// is composed from them:
//   read      the chunk's entries hashed (root()): at an open, and at a close for chunks written
//   adopted   from tags.roots, the roots a clean close left (chunk-roots.ts): the open composes
//             the volume's root from them without reading the chunks, and the chunks stay
//             unchecked until a request first reaches one (check()) or the background check
//             (checkAll()) reads it; tags that do not hash to their adopted root are
//             TagsAlteredError, for good
// The state root as it was before some changes (rootBefore(): the changes' entries before
// them put back, in the chunks they reach) is what a checkpoint records while the next round's
// changes reach the file, and what an open after an unclean end shows the service as the state at
// the start of each round it replayed.
// A write to a chunk's entries drops its root (written()), before the write and after it, so a
// root read while the write runs is not kept: a clean close reads the chunks the session wrote,
// not the whole volume, and records the tags as this process wrote them. An unchecked chunk is
// never written: every request checks its sectors' chunks first, so no tags the open did not
// vouch for are taken into a root. Many chunks to read at once are hashed on worker threads
// (chunk-hashing.ts), off the event loop.

import { selectBlockCryptoEngine } from '@sealkeep/crypto';
import { hashChunks } from './chunk-hashing.js';
import { ChunkStateBuilder, volumeStateRoot } from './chunk-state.js';
import { TAG_ENTRY_BYTES } from './sector-state.js';

/** Sectors per chunk: 2.5 MiB of 40-byte entries. */
export const CHUNK_SECTORS = 1 << 16;
/** From this many whole chunks to read, they are hashed on worker threads, not on the event loop. */
const WORKER_CHUNKS = 16;
/** A chunk checked on the event loop is hashed this many sectors at a time (~2 ms), other requests running between. */
const SLICE_SECTORS = 1 << 12;

/** A chunk's tags are not those of the root the volume was opened with: altered at rest. */
export class TagsAlteredError extends Error {
  readonly chunk: number;
  constructor(chunk: number) {
    super(`the tags of sectors ${chunk * CHUNK_SECTORS}–${(chunk + 1) * CHUNK_SECTORS - 1} are not those the volume was last closed with: altered at rest`);
    this.name = 'TagsAlteredError';
    this.chunk = chunk;
  }
}

/** A run of sectors' tag-file entries before a change: what undoes the change in rootBefore(). */
export interface EntriesBefore {
  firstLba: number;
  /** 40 bytes per sector. */
  previous: Buffer;
}

const chunksOf = (firstLba: number, count: number) => {
  const last = Math.floor((firstLba + count - 1) / CHUNK_SECTORS);
  return Array.from({ length: last - Math.floor(firstLba / CHUNK_SECTORS) + 1 }, (_, i) => Math.floor(firstLba / CHUNK_SECTORS) + i);
};
const span = (chunk: number) => ({ first: chunk * CHUNK_SECTORS, count: CHUNK_SECTORS });
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

export class TagChunks {
  readonly #readEntries: (firstLba: number, count: number) => Buffer;
  readonly #tagsPath: string;
  readonly #engine = selectBlockCryptoEngine();
  /** Whole chunks' subtree roots, by chunk number. */
  readonly #roots = new Map<number, Buffer>();
  /** Chunks whose root was adopted and whose tags are not read yet. */
  readonly #unchecked = new Set<number>();
  /** Checks on the event loop under way, by chunk: a second request to reach the chunk waits for the first's. */
  readonly #checking = new Map<number, Promise<void>>();
  #altered: TagsAlteredError | null = null;
  /** Writes to the tag file so far, and the count at each chunk's last one: a root read before it is not kept. */
  #writes = 0;
  readonly #writtenAt = new Map<number, number>();

  constructor(readEntries: (firstLba: number, count: number) => Buffer, tagsPath: string) {
    this.#readEntries = readEntries;
    this.#tagsPath = tagsPath;
  }

  /** How many chunks are still to be checked against their adopted roots. */
  get unchecked(): number {
    return this.#unchecked.size;
  }

  /** Takes a clean close's roots of the whole chunks, in order, as this open's: unchecked until read. */
  adopt(roots: readonly Buffer[]): void {
    roots.forEach((root, chunk) => {
      this.#roots.set(chunk, root);
      this.#unchecked.add(chunk);
    });
  }

  /** Drops the adopted roots not checked yet (no record vouched for them): root() reads those chunks. */
  distrust(): void {
    for (const chunk of this.#unchecked) this.#roots.delete(chunk);
    this.#unchecked.clear();
  }

  /** Every whole chunk's root, in order, once root() has run: what tags.roots keeps for the next open. */
  wholeRoots(sectorCount: number): Buffer[] | null {
    const roots = Array.from({ length: Math.floor(sectorCount / CHUNK_SECTORS) }, (_, chunk) => this.#roots.get(chunk));
    return roots.every((root) => root !== undefined) ? (roots as Buffer[]) : null;
  }

  /**
   * The volume's state root (chunk-state.ts: every sector's tag and generation word): kept roots as
   * they stand, the other chunks read and hashed (and their roots kept), as rootBefore() with
   * nothing to undo.
   */
  root(sectorCount: number, workerChunks = WORKER_CHUNKS): Promise<Buffer> {
    return this.rootBefore(sectorCount, () => [], workerChunks);
  }

  /**
   * The state root as it was before the changes `undo()` lists (in journal order): the
   * tag file with each listed sector's entry put back to the one its first listed change found.
   * Each chunk the changes reach is read and undone at one instant, with the list as it stands
   * then (a change written into the file before that read is on it), and hashed a slice at a
   * time; its root is not kept (it is not the file's). The other chunks are taken as they stand:
   * kept roots, or read and hashed (their roots kept), between slices other requests getting their
   * turn; when `workerChunks` or more whole chunks with no kept root are out of the changes' reach
   * (opening a large volume, a close or checkpoint after writes all over it), on worker threads.
   */
  async rootBefore(sectorCount: number, undo: () => readonly EntriesBefore[], workerChunks = WORKER_CHUNKS): Promise<Buffer> {
    const chunkRoots: Buffer[] = [];
    // The changes by chunk, in journal order; the list only grows, so each look indexes what was added since the last.
    const byChunk = new Map<number, EntriesBefore[]>();
    let indexed = 0;
    const reaching = (chunk: number) => {
      const list = undo();
      for (; indexed < list.length; indexed++) {
        const change = list[indexed]!;
        for (const c of chunksOf(change.firstLba, change.previous.length / TAG_ENTRY_BYTES)) {
          const into = byChunk.get(c);
          if (into) into.push(change);
          else byChunk.set(c, [change]);
        }
      }
      return byChunk.get(chunk) ?? [];
    };
    const unread = Array.from({ length: Math.floor(sectorCount / CHUNK_SECTORS) }, (_, chunk) => chunk).filter((chunk) => !this.#roots.has(chunk) && reaching(chunk).length === 0);
    if (unread.length >= workerChunks) {
      const since = this.#writes;
      const roots = await hashChunks(this.#tagsPath, unread.map(span));
      // A chunk written to while the workers read it keeps no root: it is read (and undone) below.
      unread.forEach((chunk, i) => {
        if ((this.#writtenAt.get(chunk) ?? 0) <= since) this.#roots.set(chunk, roots[i]!);
      });
    }
    for (let chunk = 0, first = 0; first < sectorCount; chunk++, first += CHUNK_SECTORS) {
      const count = Math.min(CHUNK_SECTORS, sectorCount - first);
      const whole = count === CHUNK_SECTORS;
      const kept = () => (whole ? this.#roots.get(chunk) : undefined);
      // (No turn is given for a chunk whose kept root stands: a large volume has thousands.)
      if (first > 0 && !(reaching(chunk).length === 0 && kept())) await nextTurn();
      // One instant: the file's entries and the list as they both stand now.
      const changes = reaching(chunk);
      if (changes.length === 0 && kept()) {
        chunkRoots.push(kept()!);
        continue;
      }
      const entries = this.#readEntries(first, count);
      for (let i = changes.length - 1; i >= 0; i--) {
        const { firstLba, previous } = changes[i]!;
        const from = Math.max(first, firstLba);
        const to = Math.min(first + count, firstLba + previous.length / TAG_ENTRY_BYTES);
        previous.copy(entries, (from - first) * TAG_ENTRY_BYTES, (from - firstLba) * TAG_ENTRY_BYTES, (to - firstLba) * TAG_ENTRY_BYTES);
      }
      const since = this.#writes;
      const builder = new ChunkStateBuilder(this.#engine);
      for (let at = 0; at < count; at += SLICE_SECTORS) {
        if (at > 0) await nextTurn();
        const n = Math.min(SLICE_SECTORS, count - at);
        builder.append(entries.subarray(at * TAG_ENTRY_BYTES, (at + n) * TAG_ENTRY_BYTES), n);
      }
      const hash = builder.root();
      // The file's own root, kept when nothing was undone and nothing written to the chunk meanwhile.
      if (whole && changes.length === 0 && (this.#writtenAt.get(chunk) ?? 0) <= since) this.#roots.set(chunk, hash);
      chunkRoots.push(hash);
    }
    return volumeStateRoot(sectorCount, chunkRoots);
  }

  /**
   * Checks the unchecked chunks that sectors [firstLba, firstLba + count) fall in against their
   * adopted roots; rejects with TagsAlteredError if one differs (and from then on).
   */
  async check(firstLba: number, count: number): Promise<void> {
    if (this.#altered) throw this.#altered;
    if (this.#unchecked.size === 0 || count === 0) return;
    const due = chunksOf(firstLba, count).filter((chunk) => this.#unchecked.has(chunk));
    if (due.length >= WORKER_CHUNKS) return this.#checkOnWorkers(due, {});
    for (const chunk of due) {
      let checking = this.#checking.get(chunk);
      if (!checking) {
        checking = this.#checkOnLoop(chunk).finally(() => this.#checking.delete(chunk));
        this.#checking.set(chunk, checking);
      }
      await checking;
    }
    if (this.#altered) throw this.#altered;
  }

  /** Checks every unchecked chunk on one worker thread, beside requests, until done or `signal` aborts. */
  checkAll(signal: AbortSignal): Promise<void> {
    if (this.#altered) return Promise.reject(this.#altered);
    return this.#checkOnWorkers([...this.#unchecked].sort((a, b) => a - b), { threads: 1, signal });
  }

  /** Drops the kept roots of the chunks that `count` entries from `firstLba` fall in, and notes when. */
  written(firstLba: number, count: number): void {
    const at = ++this.#writes;
    for (const chunk of chunksOf(firstLba, count)) {
      this.#roots.delete(chunk);
      this.#unchecked.delete(chunk);
      this.#writtenAt.set(chunk, at);
    }
  }

  /** Hashes a chunk's tags a slice at a time on the event loop (its stalls stay short), and settles it. */
  async #checkOnLoop(chunk: number): Promise<void> {
    const builder = new ChunkStateBuilder(this.#engine);
    for (let first = span(chunk).first, end = first + CHUNK_SECTORS; first < end; first += SLICE_SECTORS) {
      await nextTurn();
      if (this.#altered || !this.#unchecked.has(chunk)) return; // found altered elsewhere, or checked meanwhile (on a worker)
      builder.append(this.#readEntries(first, SLICE_SECTORS), SLICE_SECTORS);
    }
    this.#settle(chunk, builder.root());
  }

  async #checkOnWorkers(due: number[], options: { threads?: number; signal?: AbortSignal }): Promise<void> {
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    try {
      await hashChunks(this.#tagsPath, due.map(span), {
        ...options,
        signal,
        onRoot: (i, root) => {
          try {
            this.#settle(due[i]!, root);
          } catch {
            stop.abort();
          }
        },
      });
    } catch (error) {
      if (!this.#altered) throw error;
    }
    if (this.#altered) throw this.#altered;
  }

  /** A chunk's tags read as `root`: checked if it is its adopted root; TagsAlteredError if not. Chunks no longer unchecked are left as they are. */
  #settle(chunk: number, root: Buffer): void {
    if (!this.#unchecked.has(chunk)) return;
    if (!root.equals(this.#roots.get(chunk)!)) throw (this.#altered ??= new TagsAlteredError(chunk));
    this.#unchecked.delete(chunk);
  }
}

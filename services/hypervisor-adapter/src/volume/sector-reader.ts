// Sectors as they stand: generation words and tags from the tag file overlaid with pending
// changes; ciphertext from the data file or from pending changes. Sectors from the files are
// verified against their tags (one SectorCrypto call per run of them) before anything is
// decrypted; data sectors are decrypted in one call per run; unwritten and zeroed sectors are zeros.
// A write-back runs beside reads, so a sector read from the data file may be rewritten under the
// read by a newer change: its generation then moved on, and it is read again instead of failing
// (as often as that happens: each time, a newer write reached the files). A sector that fails
// with its generation unchanged is an integrity error.

import { TAG_BYTES } from '@sealkeep/crypto';
import { bufferPool } from '../buffer-pool.js';
import { SectorIntegrityError } from './block-volume.js';
import type { PendingSector, PendingSectors } from './pending-sectors.js';
import type { SectorCrypto } from './sector-crypto.js';
import type { SectorFiles } from './sector-files.js';
import { decodeEntries, decodeWords, sectorKind, setEntry } from './sector-state.js';

/** A read's outcome: the plaintext, or the sectors that failed their tags and the words they were read with. */
type ReadOutcome = { plaintext: Buffer } | { failing: bigint[]; words: BigUint64Array };

/** Maximal runs [start, end) of indices in 0..count that satisfy `wanted`. */
function runs(count: number, wanted: (i: number) => boolean): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    if (!wanted(i)) continue;
    const start = i;
    while (i + 1 < count && wanted(i + 1)) i++;
    found.push([start, i + 1]);
  }
  return found;
}

export class SectorReader {
  readonly #files: SectorFiles;
  readonly #pending: PendingSectors;
  readonly #crypto: SectorCrypto;
  readonly #sectorSize: number;

  constructor(files: SectorFiles, pending: PendingSectors, crypto: SectorCrypto, sectorSize: number) {
    this.#files = files;
    this.#pending = pending;
    this.#crypto = crypto;
    this.#sectorSize = sectorSize;
  }

  /** The current generation word of each sector of a run. */
  words(first: number, count: number): BigUint64Array {
    const words = decodeWords(this.#files.readEntries(first, count), count);
    if (!this.#pending.isEmpty) {
      for (let i = 0; i < count; i++) {
        const word = this.#pending.word(first + i);
        if (word !== undefined) words[i] = word;
      }
    }
    return words;
  }

  /** The current tag-file entry (generation word ‖ tag) of each sector of a run, pending changes included: what a change journals as the sectors' state before it. */
  entries(first: number, count: number): Buffer {
    const entries = this.#files.readEntries(first, count);
    if (!this.#pending.isEmpty) {
      for (let i = 0; i < count; i++) {
        const sector = this.#pending.get(first + i);
        if (sector) setEntry(entries, i, sector.word, sector.tag);
      }
    }
    return entries;
  }

  /** Runs of consecutive sectors from `first`, each all holding data or all reading as zeros with none (unwritten, trimmed, zeroed). */
  allocation(first: number, count: number): Array<{ sectors: number; zero: boolean }> {
    const words = this.words(first, count);
    const holdsNoData = (i: number) => sectorKind(words[i]!) !== 'data';
    const found: Array<{ sectors: number; zero: boolean }> = [];
    for (let i = 0; i < count; ) {
      const zero = holdsNoData(i);
      let end = i + 1;
      while (end < count && holdsNoData(end) === zero) end++;
      found.push({ sectors: end - i, zero });
      i = end;
    }
    return found;
  }

  /** The plaintext of a run of whole sectors, in a buffer from the pool; SectorIntegrityError names every sector that fails. */
  async read(first: number, count: number): Promise<Buffer> {
    for (;;) {
      const release = this.#pending.hold();
      let outcome: ReadOutcome;
      try {
        outcome = await this.#readOnce(first, count);
      } finally {
        release();
      }
      if ('plaintext' in outcome) return outcome.plaintext;
      const { failing, words } = outcome;
      const now = this.words(first, count);
      const changed = failing.some((lba) => now[Number(lba) - first] !== words[Number(lba) - first]);
      if (!changed) throw new SectorIntegrityError(failing);
    }
  }

  async #readOnce(first: number, count: number): Promise<ReadOutcome> {
    const S = this.#sectorSize;
    const { words, tags } = decodeEntries(this.#files.readEntries(first, count), count);
    const pending = new Array<PendingSector | undefined>(count);
    if (!this.#pending.isEmpty) {
      for (let i = 0; i < count; i++) {
        const sector = this.#pending.get(first + i);
        if (!sector) continue;
        pending[i] = sector;
        words[i] = sector.word;
        sector.tag?.copy(tags, i * TAG_BYTES);
      }
    }
    const isData = (i: number) => sectorKind(words[i]!) === 'data';
    const buffer = bufferPool.take(count * S);
    const fileRuns = runs(count, (i) => isData(i) && !pending[i]);
    if (fileRuns.length > 0) {
      const lo = fileRuns[0]![0];
      const hi = fileRuns[fileRuns.length - 1]![1];
      await this.#files.readCiphertext(first + lo, hi - lo, buffer.subarray(lo * S, hi * S));
    }
    for (let i = 0; i < count; i++) pending[i]?.ciphertext?.copy(buffer, i * S);
    if (this.#crypto.verifyAndDecrypt) return this.#verifyAndDecrypt(first, count, words, tags, buffer, isData);
    // Pending sectors were sealed by this process and never left its memory: only file sectors are checked.
    const failing: bigint[] = [];
    for (const [a, b] of fileRuns) {
      const lba = BigInt(first + a);
      failing.push(...(await this.#crypto.verify(lba, words.subarray(a, b), buffer.subarray(a * S, b * S), tags.subarray(a * TAG_BYTES, b * TAG_BYTES))));
    }
    if (failing.length > 0) {
      bufferPool.give(buffer);
      return { failing, words };
    }
    // Decrypted in place (the buffer is this read's own); sectors without data are zeros.
    for (const [a, b] of runs(count, isData)) {
      const run = buffer.subarray(a * S, b * S);
      const plaintext = await this.#crypto.decrypt(BigInt(first + a), run);
      if (plaintext.buffer !== run.buffer || plaintext.byteOffset !== run.byteOffset) plaintext.copy(run);
    }
    for (const [a, b] of runs(count, (i) => !isData(i))) buffer.fill(0, a * S, b * S);
    return { plaintext: buffer };
  }

  /**
   * With a combined verify-and-decrypt (the data plane's verify-decrypt), every data run — from the
   * files or pending — is verified and decrypted in one call, the runs side by side. Checking the
   * pending sectors too costs an HMAC per sector and lets a high-integrity volume, whose plain
   * decrypt the service refuses, be read at all.
   */
  async #verifyAndDecrypt(first: number, count: number, words: BigUint64Array, tags: Buffer, buffer: Buffer, isData: (i: number) => boolean): Promise<ReadOutcome> {
    const S = this.#sectorSize;
    const failing: bigint[] = [];
    const dataRuns = runs(count, isData);
    // Settled, not raced: no call may still be writing into the buffer when it goes back to the pool.
    const settled = await Promise.allSettled(
      dataRuns.map(async ([a, b]) => {
        const run = buffer.subarray(a * S, b * S);
        const r = await this.#crypto.verifyAndDecrypt!(BigInt(first + a), words.subarray(a, b), run, tags.subarray(a * TAG_BYTES, b * TAG_BYTES));
        if ('failing' in r) failing.push(...r.failing);
        else if (r.plaintext.buffer !== run.buffer || r.plaintext.byteOffset !== run.byteOffset) r.plaintext.copy(run);
      }),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      bufferPool.give(buffer);
      throw failed.reason;
    }
    if (failing.length > 0) {
      bufferPool.give(buffer);
      return { failing: failing.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), words };
    }
    for (const [a, b] of runs(count, (i) => !isData(i))) buffer.fill(0, a * S, b * S);
    return { plaintext: buffer };
  }
}

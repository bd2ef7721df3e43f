// Sectors journaled but not yet written to the data and tag files. Records reach the files only
// once the journal holding them is durable (the write-ahead rule), so until the next write-back
// the newest state of these sectors lives here, and reads look here first. A change's ciphertext
// buffer is kept as it is (no copy) and given back to the pool after the write-back.

import { TAG_BYTES } from '@sealkeep/crypto';
import { bufferPool } from '../buffer-pool.js';
import type { SectorChange } from './journal-record.js';

export interface PendingSector {
  word: bigint;
  /** null for zeroed (or unwritten) sectors. */
  ciphertext: Buffer | null;
  tag: Buffer | null;
}

/** What one pending sector costs besides its ciphertext: a map entry. */
const BOOKKEEPING_BYTES = 64;
/** A sector's place: change index × 2^16 + sector index in the change (MAX_RECORD_SECTORS = 2^16). */
const PLACE_FACTOR = 2 ** 16;

export class PendingSectors {
  /** LBA → place of the sector's newest change; numbers only, so the garbage collector has little to trace. */
  readonly #places = new Map<number, number>();
  #changes: SectorChange[] = [];
  #bytes = 0;
  readonly #sectorSize: number;

  constructor(sectorSize: number) {
    this.#sectorSize = sectorSize;
  }

  /** Memory held, roughly: what the pending limit is compared with. */
  get bytes(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#changes.length === 0;
  }

  /** Takes the change, its buffers included: nothing else may write to them any more. */
  add(change: SectorChange): void {
    const base = this.#changes.length * PLACE_FACTOR;
    for (let i = 0; i < change.words.length; i++) this.#places.set(change.firstLba + i, base + i);
    this.#changes.push(change);
    this.#bytes += (change.ciphertext?.length ?? 0) + change.words.length * BOOKKEEPING_BYTES;
  }

  /** The newest pending generation word of a sector, if it has one. */
  word(lba: number): bigint | undefined {
    const place = this.#places.get(lba);
    return place === undefined ? undefined : this.#changes[Math.floor(place / PLACE_FACTOR)]!.words[place % PLACE_FACTOR];
  }

  /** The newest pending state of a sector, if it has one. */
  get(lba: number): PendingSector | undefined {
    const place = this.#places.get(lba);
    if (place === undefined) return undefined;
    const change = this.#changes[Math.floor(place / PLACE_FACTOR)]!;
    const i = place % PLACE_FACTOR;
    const S = this.#sectorSize;
    return {
      word: change.words[i]!,
      ciphertext: change.ciphertext ? change.ciphertext.subarray(i * S, (i + 1) * S) : null,
      tag: change.tags ? change.tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES) : null,
    };
  }

  /** Hands every change to `apply`, in journal order, then forgets them all (also if apply fails). */
  drain(apply: (change: SectorChange) => void): void {
    const changes = this.#changes;
    this.#changes = [];
    this.#places.clear();
    this.#bytes = 0;
    try {
      for (const change of changes) apply(change);
    } finally {
      for (const change of changes) if (change.ciphertext) bufferPool.give(change.ciphertext);
    }
  }
}

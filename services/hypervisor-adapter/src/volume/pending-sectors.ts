// Sectors journaled but not yet in the data and tag files. Records reach the files only once the
// journal holding them is durable (the write-ahead rule), so until then the newest state of these
// sectors lives here, and reads look here first. Two layers: the newest changes, and the ones a
// write-back is putting into the files beside requests (retiring), which reads still find until
// every one of them is written. A change's ciphertext buffer is kept as it is (no copy) and given
// back to the pool once its layer is written back and no read that may copy from it still runs.

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

/** Changes in journal order, and where each sector's newest one is. */
class Layer {
  /** LBA → place of the sector's newest change; numbers only, so the garbage collector has little to trace. */
  readonly places = new Map<number, number>();
  readonly changes: SectorChange[] = [];
  bytes = 0;
  /** Reads running that may copy from this layer's buffers. */
  holders = 0;
  /** Written back: its buffers go back to the pool when the last holder lets go. */
  retired = false;

  add(change: SectorChange): void {
    const base = this.changes.length * PLACE_FACTOR;
    for (let i = 0; i < change.words.length; i++) this.places.set(change.firstLba + i, base + i);
    this.changes.push(change);
    this.bytes += (change.ciphertext?.length ?? 0) + change.words.length * BOOKKEEPING_BYTES;
  }

  /** The newest change holding `lba` and the sector's index in it, if any. */
  find(lba: number): { change: SectorChange; i: number } | undefined {
    const place = this.places.get(lba);
    return place === undefined ? undefined : { change: this.changes[Math.floor(place / PLACE_FACTOR)]!, i: place % PLACE_FACTOR };
  }

  releaseIfDone(): void {
    if (!this.retired || this.holders > 0) return;
    for (const change of this.changes) if (change.ciphertext) bufferPool.give(change.ciphertext);
    this.changes.length = 0;
    this.places.clear();
  }
}

export class PendingSectors {
  #newest = new Layer();
  #retiring: Layer | null = null;
  readonly #sectorSize: number;

  constructor(sectorSize: number) {
    this.#sectorSize = sectorSize;
  }

  /** Memory held by both layers, roughly: what the pending limit is compared with. */
  get bytes(): number {
    return this.#newest.bytes + (this.#retiring?.bytes ?? 0);
  }

  /** Memory held by the changes no write-back has taken yet. */
  get newestBytes(): number {
    return this.#newest.bytes;
  }

  get isEmpty(): boolean {
    return this.#newest.changes.length === 0 && this.#retiring === null;
  }

  /** Takes the change, its buffers included: nothing else may write to them any more. */
  add(change: SectorChange): void {
    this.#newest.add(change);
  }

  /** The newest pending generation word of a sector, if it has one. */
  word(lba: number): bigint | undefined {
    const found = this.#newest.find(lba) ?? this.#retiring?.find(lba);
    return found?.change.words[found.i];
  }

  /** The newest pending state of a sector, if it has one. Its buffers stay valid while a hold() taken before is kept. */
  get(lba: number): PendingSector | undefined {
    const found = this.#newest.find(lba) ?? this.#retiring?.find(lba);
    if (!found) return undefined;
    const { change, i } = found;
    const S = this.#sectorSize;
    return {
      word: change.words[i]!,
      ciphertext: change.ciphertext ? change.ciphertext.subarray(i * S, (i + 1) * S) : null,
      tag: change.tags ? change.tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES) : null,
    };
  }

  /** Keeps the buffers of every change pending now from going back to the pool until the returned release is called. */
  hold(): () => void {
    const layers = this.#retiring ? [this.#newest, this.#retiring] : [this.#newest];
    for (const layer of layers) layer.holders++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      for (const layer of layers) {
        layer.holders--;
        layer.releaseIfDone();
      }
    };
  }

  /**
   * Starts a write-back: the newest changes, in journal order, become the retiring ones (reads
   * still find them) and later changes go to a new layer. One write-back at a time.
   */
  retireNewest(): readonly SectorChange[] {
    if (this.#retiring) throw new Error('a write-back is already running');
    this.#retiring = this.#newest;
    this.#newest = new Layer();
    return this.#retiring.changes;
  }

  /** The write-back ended (every retiring change in the files, or the volume failed): they are forgotten. */
  forgetRetiring(): void {
    const layer = this.#retiring;
    if (!layer) return;
    this.#retiring = null;
    layer.retired = true;
    layer.releaseIfDone();
  }
}

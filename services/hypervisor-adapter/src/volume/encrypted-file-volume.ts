// The encrypted, file-backed BlockVolume (README.md). Sectors are encrypted and tagged through
// the injected SectorCrypto, one call per run of sectors; every change goes to the journal first
// and stays in memory (PendingSectors) until a write-back, once the journal is durable, puts it in
// the data and tag files. Requests run concurrently (volume-locks.ts): reads freely, changes one
// at a time per sector, write-backs alone. A burst of writes is written back in the pause after
// it (IDLE_WRITE_BACK_MS without a request), so the guest's next burst finds room instead of
// waiting for a write-back; only a burst longer than the pending limit waits for one. That
// write-back ends in a checkpoint (the files' fdatasync beside new requests, the journal's restart
// alone), so the journal starts over after every burst: it stays about one burst long, and the
// next burst writes into journal pages the page cache still holds.
// Open one with openEncryptedFileVolume (open-volume.ts).

import type { SectorSize } from '@sealkeep/crypto';
import { bufferPool } from '../buffer-pool.js';
import { VolumeError, toVolumeError, type BlockVolume, type WriteOptions } from './block-volume.js';
import { MAX_RECORD_SECTORS, type SectorChange } from './journal-record.js';
import { PendingSectors } from './pending-sectors.js';
import type { SectorCrypto } from './sector-crypto.js';
import type { SectorFiles } from './sector-files.js';
import type { SectorJournal } from './sector-journal.js';
import { SectorReader } from './sector-reader.js';
import { nextDataGeneration, nextZeroedGeneration } from './sector-state.js';
import { Gate, SectorLocks } from './volume-locks.js';

export interface VolumeLimits {
  /** Journaled changes held in memory before a write-back puts them in the files. */
  pendingBytes: number;
  /** Journal length past which a write-back ends in a checkpoint. */
  journalBytes: number;
}

export const DEFAULT_LIMITS: VolumeLimits = { pendingBytes: 64 << 20, journalBytes: 256 << 20 };

/** Unsynced journal bytes past which a sync starts in the background, so a write-back or flush finds little left to sync. */
const BACKGROUND_SYNC_BYTES = 8 << 20;

/** A pause this long with no request, after changes of a quarter of the pending limit or more, starts a write-back. */
export const IDLE_WRITE_BACK_MS = 20;

export interface VolumeParts {
  uuid: string;
  size: number;
  sectorSize: SectorSize;
  readOnly: boolean;
  files: SectorFiles;
  journal: SectorJournal;
  crypto: SectorCrypto;
  limits: VolumeLimits;
}

export class EncryptedFileVolume implements BlockVolume {
  readonly uuid: string;
  readonly size: number;
  readonly sectorSize: SectorSize;
  readonly readOnly: boolean;
  readonly #files: SectorFiles;
  readonly #journal: SectorJournal;
  readonly #crypto: SectorCrypto;
  readonly #limits: VolumeLimits;
  readonly #pending: PendingSectors;
  readonly #reader: SectorReader;
  readonly #gate = new Gate();
  readonly #sectorLocks = new SectorLocks();
  /** Set when a journal or file write failed: memory and files may disagree until the journal is replayed. */
  #failed: VolumeError | null = null;
  /** Set by stop(): requests fail with it from then on, though the volume still closes cleanly. */
  #stopped: VolumeError | null = null;
  #closed = false;
  /** Requests started and not finished, and when the last one finished: what makes a pause. */
  #inFlight = 0;
  #lastRequestEnd = 0;
  #idleTimer: NodeJS.Timeout | null = null;

  constructor(parts: VolumeParts) {
    this.uuid = parts.uuid;
    this.size = parts.size;
    this.sectorSize = parts.sectorSize;
    this.readOnly = parts.readOnly;
    this.#files = parts.files;
    this.#journal = parts.journal;
    this.#crypto = parts.crypto;
    this.#limits = parts.limits;
    this.#pending = new PendingSectors(parts.sectorSize);
    this.#reader = new SectorReader(parts.files, this.#pending, parts.crypto, parts.sectorSize);
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.#request(false, offset, length, async () => {
      if (length === 0) return Buffer.alloc(0);
      const first = Math.floor(offset / this.sectorSize);
      const plaintext = await this.#reader.read(first, Math.ceil((offset + length) / this.sectorSize) - first);
      const from = offset - first * this.sectorSize;
      return plaintext.subarray(from, from + length);
    });
  }

  write(offset: number, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    return this.#request(true, offset, data.length, async () => {
      await this.#locked(offset, data.length, () => this.#sealAndCommit(offset, data));
      if (options.fua) await this.#journal.sync();
    });
  }

  /** Makes every write that resolved before it durable: the journal is synced (the files are not needed). */
  flush(): Promise<void> {
    return this.#request(false, 0, 0, () => this.#journal.sync());
  }

  trim(offset: number, length: number, options: WriteOptions = {}): Promise<void> {
    // Only whole sectors are discarded (the spec lets a server round a trim inwards).
    return this.#request(true, offset, length, async () => {
      await this.#locked(offset, length, () => this.#zeroWholeSectors(Math.ceil(offset / this.sectorSize), Math.floor((offset + length) / this.sectorSize)));
      if (options.fua) await this.#journal.sync();
    });
  }

  writeZeroes(offset: number, length: number, options: WriteOptions = {}): Promise<void> {
    return this.#request(true, offset, length, async () => {
      const S = this.sectorSize;
      const end = offset + length;
      const wholeFrom = Math.ceil(offset / S);
      const wholeTo = Math.floor(end / S);
      // One lock over the whole range: the partial sectors and the whole ones change as one request.
      await this.#locked(offset, length, async () => {
        if (offset % S !== 0) await this.#sealAndCommit(offset, new Uint8Array(Math.min(end, wholeFrom * S) - offset));
        if (end % S !== 0 && wholeTo >= wholeFrom) await this.#sealAndCommit(wholeTo * S, new Uint8Array(end - wholeTo * S));
        await this.#zeroWholeSectors(wholeFrom, wholeTo);
      });
      if (options.fua) await this.#journal.sync();
    });
  }

  /**
   * Writes every pending change into the files and makes them durable, so the data and tag files
   * alone hold the whole volume and the journal starts over (before the files are copied, or a
   * root is computed over the tags). Waits for running requests and holds new ones meanwhile.
   */
  checkpoint(): Promise<void> {
    return this.#gate.exclusive(async () => {
      if (this.#closed) throw new VolumeError('CLOSED', 'the volume is closed');
      if (this.#failed) throw this.#failed;
      await this.#writeBack(true);
    });
  }

  /**
   * Refuses every request from now on (IO: the NBD client sees EIO), e.g. when the keys are gone
   * because the data plane ended the volume's session. Requests already past their crypto finish;
   * nothing half-done reaches the journal, and close() still writes everything back.
   */
  stop(reason: string): void {
    this.#stopped ??= new VolumeError('IO', `the volume stopped: ${reason}`);
  }

  /** Writes everything back, checkpoints (nothing to replay at the next open) and releases the keys. */
  close(): Promise<void> {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    return this.#gate.exclusive(async () => {
      if (this.#closed) return;
      try {
        if (!this.#failed) await this.#writeBack(true);
      } finally {
        this.#closed = true;
        await Promise.allSettled([this.#files.close(), this.#journal.close()]);
        this.#crypto.close();
      }
    });
  }

  /** Runs a request beside the others (shared gate), after checking its range; then writes back if memory is full. */
  async #request<T>(changes: boolean, offset: number, length: number, work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await this.#requestInGate(changes, offset, length, work);
    } finally {
      this.#inFlight--;
      this.#lastRequestEnd = performance.now();
      if (changes && !this.#idleTimer) this.#writeBackAfterPause(IDLE_WRITE_BACK_MS);
    }
  }

  async #requestInGate<T>(changes: boolean, offset: number, length: number, work: () => Promise<T>): Promise<T> {
    const result = await this.#gate.shared(async () => {
      if (this.#stopped) throw this.#stopped;
      if (this.#closed) throw new VolumeError('CLOSED', 'the volume is closed');
      if (this.#failed) throw this.#failed;
      if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
        throw new VolumeError('OUT_OF_RANGE', `bytes ${offset}+${length} pass the end of the volume (${this.size})`);
      }
      if (changes && this.readOnly) throw new VolumeError('READ_ONLY', 'the volume is read-only');
      let result: T;
      try {
        result = await work();
      } catch (error) {
        throw toVolumeError(error);
      }
      // Started inside the gate, so a write-back, whose own sync waits for it, never overlaps it.
      if (changes && this.#journal.unsyncedBytes >= BACKGROUND_SYNC_BYTES) {
        this.#journal.sync().catch((error: unknown) => {
          this.#failed ??= new VolumeError('IO', `the volume stopped: journal sync failed (${(error as Error).message}); reopen it to replay its journal`, { cause: error });
        });
      }
      return result;
    });
    if (changes && this.#pending.bytes >= this.#limits.pendingBytes) {
      const stillFull = () => !this.#closed && !this.#failed && this.#pending.bytes >= this.#limits.pendingBytes;
      await this.#gate.exclusive(() => (stillFull() ? this.#writeBack(false) : Promise.resolve()));
    }
    return result;
  }

  /**
   * When enough is pending to be worth it, writes back and checkpoints once no request has run for
   * IDLE_WRITE_BACK_MS: one timer per pause, moved on (not re-made per request) while requests come.
   */
  #writeBackAfterPause(delayMs: number): void {
    if (this.#closed || this.#pending.bytes < this.#limits.pendingBytes / 4) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      const quiet = performance.now() - this.#lastRequestEnd;
      if (this.#inFlight > 0 || quiet < IDLE_WRITE_BACK_MS) return this.#writeBackAfterPause(this.#inFlight > 0 ? IDLE_WRITE_BACK_MS : IDLE_WRITE_BACK_MS - quiet);
      // A failure is the volume's (#failed, set by the write-back), reported to the requests that follow.
      this.#writeBackAndCheckpoint().catch(() => undefined);
    }, delayMs);
    this.#idleTimer.unref();
  }

  /**
   * The pause's write-back, then a checkpoint whose fdatasync of the files runs beside new requests
   * (FileHandle.close waits for it); the journal restarts only if no record was appended meanwhile,
   * as then every record is in files now durable. Otherwise the next write-back in a pause does.
   */
  async #writeBackAndCheckpoint(): Promise<void> {
    const usable = () => !this.#closed && !this.#failed;
    let appliedThrough: bigint | null = null;
    await this.#gate.exclusive(async () => {
      if (!usable() || this.#pending.isEmpty) return;
      await this.#writeBack(false);
      appliedThrough = this.#journal.nextSequence;
    });
    if (appliedThrough === null || !usable()) return;
    await this.#stopOnFailure(() => this.#files.sync());
    await this.#gate.exclusive(async () => {
      if (!usable() || this.#journal.nextSequence !== appliedThrough) return;
      await this.#stopOnFailure(async () => {
        await this.#journal.restart();
        await this.#journal.sync();
      });
    });
  }

  /**
   * Runs a change holding the sectors of [offset, offset + length), after every earlier change to
   * any of them: changes to a sector are read-modified, numbered and journaled in the order issued.
   */
  async #locked(offset: number, length: number, change: () => Promise<void>): Promise<void> {
    if (length === 0) return;
    const first = Math.floor(offset / this.sectorSize);
    const release = await this.#sectorLocks.acquire(first, Math.ceil((offset + length) / this.sectorSize) - first);
    try {
      await change();
    } finally {
      release();
    }
  }

  /**
   * Encrypts (in `data` itself, when whole sectors), tags and journals a byte range; a partial
   * first or last sector is read, merged and rewritten. The caller holds the sectors' lock.
   */
  async #sealAndCommit(offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const S = this.sectorSize;
    const first = Math.floor(offset / S);
    const count = Math.ceil((offset + data.length) / S) - first;
    const head = offset - first * S;
    const tail = (first + count) * S - (offset + data.length);
    let plaintext = data;
    if (head !== 0 || tail !== 0) {
      const whole = bufferPool.take(count * S);
      const merge = async (lba: number, at: number) => {
        const sector = await this.#reader.read(lba, 1);
        sector.copy(whole, at);
        bufferPool.give(sector);
      };
      if (head !== 0) await merge(first, 0);
      if (tail !== 0 && (count > 1 || head === 0)) await merge(first + count - 1, (count - 1) * S);
      whole.set(data, head);
      bufferPool.give(data);
      plaintext = whole;
    }
    const next = this.#reader.words(first, count).map(nextDataGeneration);
    let ciphertext: Buffer;
    let tags: Buffer;
    if (this.#crypto.encryptAndTag) ({ ciphertext, tags } = await this.#crypto.encryptAndTag(BigInt(first), next, plaintext));
    else {
      ciphertext = await this.#crypto.encrypt(BigInt(first), plaintext);
      tags = await this.#crypto.tag(BigInt(first), next, ciphertext);
    }
    if (ciphertext.buffer !== plaintext.buffer) bufferPool.give(plaintext);
    // The ciphertext buffer now belongs to the pending changes, which give it back after the write-back.
    await this.#commit({ kind: 'sectors', firstLba: first, words: next, tags, ciphertext });
  }

  /** Marks sectors [from, to) zeroed, in records of at most MAX_RECORD_SECTORS; unchanged runs are skipped. The caller holds their lock. */
  async #zeroWholeSectors(from: number, to: number): Promise<void> {
    for (let first = from; first < to; first += MAX_RECORD_SECTORS) {
      const count = Math.min(MAX_RECORD_SECTORS, to - first);
      const words = this.#reader.words(first, count);
      const next = words.map(nextZeroedGeneration);
      if (next.some((word, i) => word !== words[i])) await this.#commit({ kind: 'zeroes', firstLba: first, words: next, tags: null, ciphertext: null });
    }
  }

  /** Journals a change, then makes it the sectors' newest state (the caller holds their sector lock). */
  async #commit(change: SectorChange): Promise<void> {
    await this.#stopOnFailure(async () => {
      this.#journal.append(change);
      this.#pending.add(change);
    });
  }

  /**
   * Under the exclusive gate: the journal made durable, then its pending changes written into the
   * files (the write-ahead rule); then, if the journal grew long (or always, to close), a checkpoint:
   * the files made durable, so the journal's records are no longer needed and it starts over.
   */
  async #writeBack(checkpoint: boolean): Promise<void> {
    await this.#stopOnFailure(async () => {
      await this.#journal.sync();
      this.#pending.drain((change) => this.#files.apply(change));
      if (checkpoint || this.#journal.bytes >= this.#limits.journalBytes) {
        await this.#files.sync();
        await this.#journal.restart();
        await this.#journal.sync();
      }
    });
  }

  async #stopOnFailure(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      const cause = toVolumeError(error);
      this.#failed = new VolumeError('IO', `the volume stopped after a storage failure (${cause.message}); reopen it to replay its journal`, { cause });
      throw cause;
    }
  }
}

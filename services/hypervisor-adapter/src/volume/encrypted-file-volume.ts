// The encrypted, file-backed BlockVolume (README.md). Sectors are encrypted and tagged through
// the injected SectorCrypto, one call per run of sectors; every change goes to the journal first
// and stays in memory (PendingSectors) until a write-back, once the journal is durable, puts it in
// the data and tag files. Requests run concurrently (volume-locks.ts): reads freely, changes one
// at a time per sector. Write-backs run beside them, one at a time: one starts when half the
// pending limit is unwritten, and requests wait for it only when the whole limit is held. A
// checkpoint runs beside them too: the journal starts its next round in its other file at once,
// and the round left is written back, made durable in the files and retired meanwhile.
// Checkpoints come in the pause after a burst (IDLE_WRITE_BACK_MS without a request), so each
// round stays about one burst long and the next burst writes into journal pages the page cache
// still holds; a stream of writes with no pause checkpoints when a round passes the journal limit.
// When the crypto records state, a pause checkpoints a smaller round too, at most every
// limits.recordIntervalMs, so that few writes are ever later than the state last recorded.
// Only close() and checkpoint() hold requests back. Open one with openEncryptedFileVolume (open-volume.ts).
// A volume opened from saved chunk roots checks each chunk of its tags before the first request
// that reaches it, and all of them in the background (tag-check.ts); a chunk found altered at rest
// stops the volume.
// When the crypto keeps volume state records (through the data plane), a round of the journal is
// retired only after the state it ends with is recorded: the state root of the tags before the next
// round's changes (each change journals the entries it replaces). So the journal always holds
// every change since the state last recorded, and an open after an unclean end shows the service
// the states its replay passed through (open-volume.ts). A volume stopped (its session ended, its
// tags found altered) keeps its journal at close, for that open to replay.

import { volumeIdFromUuid, type SectorSize } from '@sealkeep/crypto';
import { bufferPool } from '../buffer-pool.js';
import { silentLogger, type Logger } from '../logger.js';
import { VolumeError, toVolumeError, type BlockVolume, type Extent, type WriteOptions } from './block-volume.js';
import { MAX_RECORD_SECTORS, zeroesDigest, type SectorChange } from './journal-record.js';
import type { EntriesBefore } from './tag-chunks.js';
import { PendingSectors } from './pending-sectors.js';
import type { SectorCrypto } from './sector-crypto.js';
import type { SectorFiles } from './sector-files.js';
import type { SectorJournal } from './sector-journal.js';
import { SectorReader } from './sector-reader.js';
import { TagCheck } from './tag-check.js';
import { decodeWords, nextDataGeneration, nextZeroedGeneration } from './sector-state.js';
import { Gate, SectorLocks } from './volume-locks.js';

export interface VolumeLimits {
  /** Journaled changes held in memory, unwritten and being written back; a write-back starts at half of it. */
  pendingBytes: number;
  /** Length of a journal round past which a checkpoint starts the next one. */
  journalBytes: number;
  /**
   * When the crypto records state, a pause checkpoints a round of any size once this long has
   * passed since the last checkpoint: the writes a provider could drop by cutting the journal after
   * an unclean end (those since the state last recorded) stay a few seconds' worth.
   */
  recordIntervalMs: number;
}

export const DEFAULT_LIMITS: VolumeLimits = { pendingBytes: 64 << 20, journalBytes: 256 << 20, recordIntervalMs: 5_000 };

/** Unsynced journal bytes past which a sync starts in the background, so a write-back or flush finds little left to sync. */
const BACKGROUND_SYNC_BYTES = 8 << 20;

/** A pause this long with no request, once the journal's round holds a quarter of the pending limit or more, starts a checkpoint. */
export const IDLE_WRITE_BACK_MS = 20;
/** Sectors one extents() call looks at, at most (their tag entries are read: 2.5 MiB at this many). */
const MAX_EXTENT_SECTORS = 1 << 16;

export interface VolumeParts {
  uuid: string;
  size: number;
  sectorSize: SectorSize;
  readOnly: boolean;
  files: SectorFiles;
  journal: SectorJournal;
  crypto: SectorCrypto;
  limits: VolumeLimits;
  /** The state root of the tags recorded at the open (chunk-state.ts), when the crypto keeps volume state records. */
  openedRoot?: Buffer | null;
  log?: Logger;
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
  readonly #log: Logger;
  readonly #tagCheck: TagCheck;
  /** The 16 bytes every tag of the volume covers. */
  readonly #volumeId: Buffer;
  /** The root last recorded with the keys' holder (at the open, then each checkpoint): what an alteration found later is reported against. */
  #recordedRoot: Buffer | null;
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
  /** The write-back running, if one is; it never rejects (a failure is #failed). */
  #writingBack: Promise<void> | null = null;
  /** The checkpoint running, if one is (they run one at a time); it never rejects. */
  #checkpointing: Promise<void> | null = null;
  /** When a checkpoint (or the open) last recorded the volume's state, or tried to and could not: a pause records again recordIntervalMs on. */
  #lastRecordAt = performance.now();
  /** Changes applied to the files since their last fdatasync began, and that fdatasync if it runs. */
  #filesDirty = false;
  #filesSyncing: Promise<void> | null = null;
  /** The active round's changes, as the entries they replaced (kept when the crypto records state): what a checkpoint undoes to find the state the round before ended with. */
  #roundChanges: EntriesBefore[] = [];

  constructor(parts: VolumeParts) {
    this.uuid = parts.uuid;
    this.#volumeId = volumeIdFromUuid(parts.uuid);
    this.#recordedRoot = parts.openedRoot ?? null;
    this.size = parts.size;
    this.sectorSize = parts.sectorSize;
    this.readOnly = parts.readOnly;
    this.#files = parts.files;
    this.#journal = parts.journal;
    this.#crypto = parts.crypto;
    this.#limits = parts.limits;
    this.#log = parts.log ?? silentLogger;
    this.#pending = new PendingSectors(parts.sectorSize);
    this.#reader = new SectorReader(parts.files, this.#pending, parts.crypto, parts.sectorSize);
    const { recordState } = parts.crypto;
    this.#tagCheck = new TagCheck({
      chunks: parts.files.chunks,
      uuid: this.uuid,
      sectorSize: this.sectorSize,
      log: this.#log,
      recordAltered: recordState && this.#recordedRoot ? () => recordState.call(parts.crypto, 'altered', this.#recordedRoot!) : null,
      stopVolume: (reason) => (this.#stopped ??= new VolumeError('IO', `the volume stopped: ${reason}`)),
    });
  }

  /** Chunks of tags the open adopted from the last clean close's roots and no check has read yet (0 once all are). */
  get uncheckedChunks(): number {
    return this.#files.chunks.unchecked;
  }

  /** Hears it when the volume stops itself: a chunk of its tags found altered at rest (the reason says which). */
  onStopped(listener: (reason: string) => void): void {
    this.#tagCheck.onStopped(listener);
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

  extents(offset: number, length: number): Promise<Extent[]> {
    // Only the first MAX_EXTENT_SECTORS are looked at, so only their chunks of tags need a check.
    const looked = Math.min(length, (Math.floor(offset / this.sectorSize) + MAX_EXTENT_SECTORS) * this.sectorSize - offset);
    return this.#request(false, offset, length, async () => {
      if (length === 0) return [];
      const S = this.sectorSize;
      const first = Math.floor(offset / S);
      const count = Math.min(Math.ceil((offset + length) / S) - first, MAX_EXTENT_SECTORS);
      const end = Math.min(offset + length, (first + count) * S);
      let at = offset;
      let lba = first;
      return this.#reader.allocation(first, count).map(({ sectors, zero }) => {
        lba += sectors;
        const to = Math.min(end, lba * S);
        const extent = { length: to - at, zero };
        at = to;
        return extent;
      });
    }, looked);
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
      if (this.#keepsJournal) throw this.#stopped!;
      await this.#checkpointHeld('checkpoint');
    });
  }

  /**
   * Refuses every request from now on (IO: the NBD client sees EIO), e.g. when the keys are gone
   * because the data plane ended the volume's session. Requests already past their crypto finish;
   * nothing half-done reaches the journal. close() still writes everything back — or, when the
   * crypto records state, makes the journal durable and leaves it for the next open to replay.
   */
  stop(reason: string): void {
    this.#stopped ??= new VolumeError('IO', `the volume stopped: ${reason}`);
    this.#tagCheck.stop();
  }

  /**
   * Writes everything back, records the state root of the tags with the keys' holder (when it keeps
   * volume state records), checkpoints (nothing to replay at the next open), and releases the
   * keys. A volume that records state and was stopped only makes its journal durable: its next
   * open replays it. Rejects if any of it failed, once everything is closed.
   */
  async close(): Promise<void> {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#tagCheck.stop();
    await this.#tagCheck.settled();
    await this.#checkpointing;
    await this.#writingBack;
    return this.#gate.exclusive(async () => {
      if (this.#closed) return;
      try {
        if (this.#failed) return;
        if (this.#keepsJournal) {
          // The journal stays, durable, for the next open to replay from the state last recorded.
          await this.#stopOnFailure(() => this.#journal.sync());
          return;
        }
        await this.#checkpointHeld('closed');
        await this.#journal.trimToRound();
        if (this.#crypto.recordState) {
          await this.#files.saveRoots(this.size / this.sectorSize).catch((err: unknown) => this.#log.warn({ uuid: this.uuid, err }, 'chunk roots not saved at the close: the next open reads every chunk of the tags'));
        }
      } finally {
        this.#closed = true;
        await Promise.allSettled([this.#files.close(), this.#journal.close()]);
        this.#crypto.close();
      }
    });
  }

  /**
   * Runs a request beside the others (shared gate), after checking its range and the chunks of
   * tags its first `reaches` bytes fall in; then writes back if memory is full.
   */
  async #request<T>(changes: boolean, offset: number, length: number, work: () => Promise<T>, reaches = length): Promise<T> {
    this.#inFlight++;
    try {
      return await this.#requestInGate(changes, offset, length, work, reaches);
    } finally {
      this.#inFlight--;
      this.#lastRequestEnd = performance.now();
      if (changes && !this.#idleTimer) this.#writeBackAfterPause(IDLE_WRITE_BACK_MS);
    }
  }

  async #requestInGate<T>(changes: boolean, offset: number, length: number, work: () => Promise<T>, reaches: number): Promise<T> {
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
        if (reaches > 0 && this.#files.chunks.unchecked > 0) await this.#tagCheck.before(offset, reaches);
        result = await work();
      } catch (error) {
        throw toVolumeError(error);
      }
      if (changes && this.#journal.unsyncedBytes >= BACKGROUND_SYNC_BYTES) {
        this.#journal.sync().catch((error: unknown) => {
          this.#failed ??= new VolumeError('IO', `the volume stopped: journal sync failed (${(error as Error).message}); reopen it to replay its journal`, { cause: error });
        });
      }
      return result;
    });
    if (changes) await this.#afterChange();
    return result;
  }

  /**
   * After a change, beside requests: a write-back starts once half the pending limit is unwritten,
   * and a checkpoint once the journal passes its limit; a change that finds the whole pending limit
   * held waits for the running write-back (or a new one) before it is answered.
   */
  async #afterChange(): Promise<void> {
    const usable = () => !this.#closed && !this.#failed;
    const { pendingBytes, journalBytes } = this.#limits;
    if (this.#pending.newestBytes >= pendingBytes / 2 && !this.#writingBack) void this.#writeBack();
    if (this.#journal.bytes >= journalBytes) this.#startCheckpoint();
    while (usable() && this.#pending.bytes >= pendingBytes) await (this.#writingBack ?? this.#writeBack());
  }

  /**
   * When enough is pending to be worth it, writes back and checkpoints once no request has run for
   * IDLE_WRITE_BACK_MS: one timer per pause, moved on (not re-made per request) while requests come.
   */
  #writeBackAfterPause(delayMs: number): void {
    if (this.#closed) return;
    // A small round is worth a checkpoint only to record the volume's state, and then at most every recordIntervalMs.
    // (or to record, at last, the state of a round a checkpoint left when the holder was out of reach)
    const small = this.#journal.bytes < this.#limits.pendingBytes / 4;
    if (small && !(this.#crypto.recordState && (this.#journal.roundHasRecords || this.#journal.hasPrevious))) return;
    if (small) delayMs = Math.max(delayMs, this.#recordDueInMs());
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      const quiet = performance.now() - this.#lastRequestEnd;
      // (a checkpoint still running, of the journal's limit or of the last pause: try again after it)
      const busy = this.#inFlight > 0 || this.#checkpointing !== null;
      if (busy || quiet < IDLE_WRITE_BACK_MS) return this.#writeBackAfterPause(busy ? IDLE_WRITE_BACK_MS : IDLE_WRITE_BACK_MS - quiet);
      this.#startCheckpoint();
    }, delayMs);
    this.#idleTimer.unref();
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
    const previous = this.#reader.entries(first, count);
    const next = decodeWords(previous, count).map(nextDataGeneration);
    let ciphertext: Buffer;
    let tags: Buffer;
    if (this.#crypto.encryptAndTag) ({ ciphertext, tags } = await this.#crypto.encryptAndTag(BigInt(first), next, plaintext));
    else {
      ciphertext = await this.#crypto.encrypt(BigInt(first), plaintext);
      tags = await this.#crypto.tag(BigInt(first), next, ciphertext);
    }
    if (ciphertext.buffer !== plaintext.buffer) bufferPool.give(plaintext);
    // The ciphertext buffer now belongs to the pending changes, which give it back after the write-back.
    await this.#commit({ kind: 'sectors', firstLba: first, words: next, tags, ciphertext, previous });
  }

  /**
   * Marks sectors [from, to) zeroed, in records of at most MAX_RECORD_SECTORS; unchanged runs are
   * skipped. A trim may span the whole volume, so between records the pending limit is honoured
   * as between requests (a write-back, or a wait for one) and other requests get their turn. The
   * caller holds the sectors' lock.
   */
  async #zeroWholeSectors(from: number, to: number): Promise<void> {
    for (let first = from; first < to; first += MAX_RECORD_SECTORS) {
      if (first > from) {
        await this.#afterChange();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const count = Math.min(MAX_RECORD_SECTORS, to - first);
      const previous = this.#reader.entries(first, count);
      const words = decodeWords(previous, count);
      const next = words.map(nextZeroedGeneration);
      if (!next.some((word, i) => word !== words[i])) continue;
      // Tagged by the keys' holder, so that no one else can make a replay zero sectors (journal-record.ts).
      const change = { firstLba: first, words: next, previous };
      const authenticator = await this.#crypto.tag(BigInt(first), next.subarray(0, 1), zeroesDigest(change, this.#volumeId, this.sectorSize));
      await this.#commit({ kind: 'zeroes', ...change, tags: null, ciphertext: null, authenticator });
    }
  }

  /** Journals a change, then makes it the sectors' newest state (the caller holds their sector lock). */
  async #commit(change: SectorChange): Promise<void> {
    // After a failure, the newest state of the change's sectors may not be where their words were read from.
    if (this.#failed) throw this.#failed;
    await this.#stopOnFailure(async () => {
      this.#journal.append(change);
      this.#pending.add(change);
      if (this.#crypto.recordState) this.#roundChanges.push({ firstLba: change.firstLba, previous: change.previous! });
    });
  }

  /**
   * Writes the changes pending now into the files, beside requests: they become the retiring
   * layer (reads still find them there), the journal is made durable up to them (the write-ahead
   * rule), then they are written, in journal order. Waits for a write-back already running first.
   * Never rejects: a storage failure stops the volume (#failed), and the retiring changes are then
   * kept, so that nothing in memory falls back to files that may be behind or torn.
   */
  async #writeBack(): Promise<void> {
    while (this.#writingBack) await this.#writingBack;
    if (this.#closed || this.#failed || this.#pending.newestBytes === 0) return;
    // From the check above to here nothing awaits, so no other write-back can start in between.
    const changes = this.#pending.retireNewest();
    this.#writingBack = this.#stopOnFailure(async () => {
      await this.#journal.sync();
      try {
        await this.#files.apply(changes);
      } finally {
        // Only now: an fdatasync that began while these writes ran need not cover them.
        this.#filesDirty = true;
      }
      this.#pending.forgetRetiring();
    })
      .catch(() => undefined)
      .finally(() => (this.#writingBack = null));
    await this.#writingBack;
  }

  /** Starts a checkpoint beside requests unless one runs; a failure is the volume's (#failed), reported to the requests that follow. */
  #startCheckpoint(): void {
    if (this.#checkpointing) return;
    this.#oneCheckpointAtATime(() => this.#checkpointBeside())
      .catch(() => undefined)
      .finally(() => this.#recordLater());
  }

  /**
   * A round whose state could not be recorded (the keys' holder out of reach) is recorded at a
   * pause recordIntervalMs on, whether or not a request comes to start one.
   */
  #recordLater(): void {
    const waiting = this.#journal.hasPrevious && this.#crypto.recordState && !this.#keepsJournal && !this.#failed;
    if (waiting && !this.#idleTimer) this.#writeBackAfterPause(Math.max(IDLE_WRITE_BACK_MS, this.#recordDueInMs()));
  }

  /** Runs `checkpoint` once no other runs, as the one running (#checkpointing). */
  async #oneCheckpointAtATime(checkpoint: () => Promise<void>): Promise<void> {
    while (this.#checkpointing) await this.#checkpointing;
    // From the check above to here nothing awaits: no other checkpoint can start in between.
    const run = checkpoint();
    const running = run.catch(() => undefined);
    this.#checkpointing = running;
    try {
      await run;
    } finally {
      if (this.#checkpointing === running) this.#checkpointing = null;
    }
  }

  /**
   * A checkpoint beside requests: the journal's next round starts at once (it follows this one,
   * which replay would take first), and this round's changes are written back and made durable in
   * the files; the state the round ended with is recorded (when the crypto records state: the
   * tags with the next round's changes so far undone); then the round is retired, and its file
   * may take the round after next.
   */
  async #checkpointBeside(): Promise<void> {
    if (this.#closed || this.#failed || this.#keepsJournal) return;
    if (this.#journal.hasPrevious) {
      // The round the last checkpoint left, whose state could not be recorded (the keys' holder out
      // of reach): tried again no sooner than recordIntervalMs after the failure — its state is the
      // files with the active round's changes undone — and retired before another round begins.
      if (this.#recordDueInMs() > 0) return; // (#recordLater brings it back)
      await this.#recordState('checkpoint', () => this.#roundChanges);
      await this.#stopOnFailure(() => this.#journal.retirePrevious());
      if (!this.#journal.roundHasRecords) return void (this.#lastRecordAt = performance.now());
    }
    const next: EntriesBefore[] = [];
    await this.#stopOnFailure(async () => {
      this.#journal.switchRound(true);
      this.#roundChanges = next;
    });
    await this.#writeBack();
    await this.#syncFiles();
    if (this.#keepsJournal) return; // (the round stays for the next open's replay)
    await this.#recordState('checkpoint', () => next);
    await this.#stopOnFailure(() => this.#journal.retirePrevious());
    this.#lastRecordAt = performance.now();
  }

  /**
   * Under the exclusive gate (no append can run): every pending change written back and the files
   * made durable, the state recorded at `moment` (when the crypto records state), so every round
   * is retired and the next one stands alone.
   */
  async #checkpointHeld(moment: 'checkpoint' | 'closed'): Promise<void> {
    await this.#oneCheckpointAtATime(async () => {
      await this.#writeBack();
      await this.#syncFiles();
      await this.#recordState(moment, () => []);
      await this.#stopOnFailure(async () => {
        await this.#journal.retirePrevious(); // (a round whose state was not recorded: this state covers it)
        this.#journal.switchRound(false);
        this.#roundChanges = [];
        await this.#journal.retirePrevious();
      });
      this.#lastRecordAt = performance.now();
    });
  }

  /**
   * Records the state root of the tags as they were before the changes `undo()` lists with the keys'
   * holder, when it keeps volume state records. A failure (the holder out of reach: a restart, a
   * network fault) is the checkpoint's, not the volume's: no round is retired past the state last
   * recorded, so the journal keeps every change since it, and a later checkpoint tries again.
   */
  async #recordState(moment: 'checkpoint' | 'closed', undo: () => readonly EntriesBefore[]): Promise<void> {
    const { recordState } = this.#crypto;
    if (!recordState) return;
    try {
      const root = await this.#files.stateRootBefore(this.size / this.sectorSize, undo);
      await recordState.call(this.#crypto, moment, root);
      this.#recordedRoot = root;
    } catch (error) {
      this.#lastRecordAt = performance.now();
      const at = moment === 'closed' ? 'at its close' : 'at a checkpoint';
      this.#log.warn({ uuid: this.uuid, moment, err: error }, "the volume's state was not recorded: its journal keeps every change since the state last recorded, for a later checkpoint or the next open");
      throw new VolumeError('IO', `the volume's state was not recorded ${at} (${(error as Error).message}): its journal is kept for the next open to replay`, { cause: error });
    }
  }

  /** A stopped volume that records state keeps its journal: no state can be recorded once its session ended. */
  get #keepsJournal(): boolean {
    return this.#stopped !== null && this.#crypto.recordState !== undefined;
  }

  /** How long until a state may be recorded again: recordIntervalMs after the last record, or the last try that failed. */
  #recordDueInMs(): number {
    return this.#limits.recordIntervalMs - (performance.now() - this.#lastRecordAt);
  }

  /** Makes every change applied to the files so far durable; callers share fdatasyncs as the journal's do. */
  async #syncFiles(): Promise<void> {
    for (;;) {
      // A failed fdatasync may have dropped what it could not write: the failure stands for good.
      if (this.#failed) throw this.#failed;
      if (this.#filesSyncing) {
        await this.#filesSyncing;
        continue;
      }
      if (!this.#filesDirty) return;
      this.#filesDirty = false;
      this.#filesSyncing = this.#stopOnFailure(() => this.#files.sync()).finally(() => (this.#filesSyncing = null));
    }
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

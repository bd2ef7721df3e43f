// The write-ahead journal of a volume (README.md, "Crash safety"). Records are appended at the
// tail, one positional writev each, and made durable by sync() (fdatasync). After a checkpoint the
// journal restarts at offset 0 with a checkpoint record, sequence numbers carrying on, so bytes of
// earlier rounds left beyond the tail are never mistaken for records: replay follows records from
// offset 0 while each is whole, its checksum holds and its sequence number is the next one.

import { constants, writevSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import {
  RECORD_HEADER_BYTES,
  checksumHolds,
  decodeRecord,
  encodeRecordHead,
  metadataBytes,
  parseRecordHeader,
  recordBytes,
  type JournalRecord,
  type RecordHeader,
  type SectorChange,
} from './journal-record.js';
import { readFully } from './sector-files.js';

/** A record that is not the journal's torn tail failed its checks: replaying past it would lose acknowledged writes. */
export class JournalDamaged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalDamaged';
  }
}

/** Applies a replayed record; false if its ciphertext fails its tags (the record is then not applied). */
export type ReplayRecord = (record: JournalRecord) => Promise<boolean>;

type ReadResult =
  | { ok: true; record: JournalRecord; length: number }
  | { ok: false; reason: string; header: RecordHeader | null; length: number };

export class SectorJournal {
  readonly #file: FileHandle;
  readonly #volumeId: Uint8Array;
  readonly #sectorSize: number;
  /** End of the last appended record (everything before it is whole). */
  #tail = 0;
  /** How far the file is known to be on stable storage. */
  #durable = 0;
  #nextSequence = 1n;
  #syncing: Promise<void> | null = null;
  /** Counts restarts, so that a sync of an earlier round never vouches for this one. */
  #round = 0;
  #syncFailure: Error | null = null;

  private constructor(file: FileHandle, volumeId: Uint8Array, sectorSize: number) {
    this.#file = file;
    this.#volumeId = volumeId;
    this.#sectorSize = sectorSize;
  }

  /** Opens the journal file; `create` starts it empty. Call replay() before the first append. */
  static async open(path: string, volumeId: Uint8Array, sectorSize: number, create: boolean): Promise<SectorJournal> {
    const file = await open(path, constants.O_RDWR | constants.O_CREAT | (create ? constants.O_TRUNC : 0), 0o600);
    return new SectorJournal(file, volumeId, sectorSize);
  }

  /** Bytes from offset 0 to the tail: what the next checkpoint would retire. */
  get bytes(): number {
    return this.#tail;
  }

  /** The sequence number the next record (or checkpoint) takes: it only grows, across rounds too. */
  get nextSequence(): bigint {
    return this.#nextSequence;
  }

  /**
   * Hands every record of the current round to `apply`, in order, and leaves the tail after the
   * last one. A record that fails its checks ends the replay as the torn tail of the crash, unless
   * a valid record follows it: that is damage, and JournalDamaged is thrown instead.
   */
  async replay(apply: ReplayRecord, log: Logger): Promise<{ records: number }> {
    let offset = 0;
    let expected: bigint | null = null;
    let records = 0;
    for (;;) {
      const read = await this.#readAt(offset);
      let failure: string | null = null;
      let claimed: bigint | null = null; // the sequence number a failing record claims, if legible
      if (!read.ok) {
        failure = read.reason;
        claimed = read.header?.sequence ?? null;
      } else if (expected !== null && read.record.sequence !== expected) {
        break; // a whole record of an earlier round: the current round ends here
      } else if (read.record.kind !== 'checkpoint' && !(await apply(read.record))) {
        failure = 'ciphertext does not match its tags';
        claimed = read.record.sequence;
      }
      if (failure !== null) {
        const inRound = claimed !== null && (expected === null || claimed === expected);
        if (inRound && (await this.#recordFollows(offset + read.length, claimed! + 1n))) {
          throw new JournalDamaged(`journal record ${claimed} at offset ${offset}: ${failure}, yet record ${claimed! + 1n} follows it`);
        }
        if (inRound) log.warn({ offset, sequence: claimed, reason: failure }, 'journal replay: torn last record dropped (its write was never flushed)');
        break;
      }
      if (!read.ok) break; // (narrowing: failure is set whenever the read failed)
      if (read.record.kind !== 'checkpoint') records++;
      expected = read.record.sequence + 1n;
      offset += read.length;
    }
    this.#tail = offset;
    this.#nextSequence = expected ?? 1n;
    return { records };
  }

  /**
   * Appends a record (its sequence number assigned here) with one synchronous pwritev into the
   * page cache, so records follow one another with no hole and never interleave; durable after
   * the next sync().
   */
  append(record: SectorChange): void {
    const full: JournalRecord = { ...record, sequence: this.#nextSequence };
    const head = encodeRecordHead(full, this.#volumeId);
    const parts = record.ciphertext ? [head, record.ciphertext] : [head];
    const length = head.length + (record.ciphertext?.length ?? 0);
    const written = writevSync(this.#file.fd, parts, this.#tail);
    if (written !== length) throw new Error(`journal append wrote ${written} of ${length} bytes`);
    this.#tail += length;
    this.#nextSequence++;
  }

  /**
   * Makes every record appended so far durable (fdatasync). Callers share syncs: one that arrives
   * while a sync runs waits for it, then starts another only if records came after it began.
   */
  async sync(): Promise<void> {
    const target = this.#tail;
    const round = this.#round;
    while (this.#durable < target && round === this.#round) {
      if (this.#syncFailure) throw this.#syncFailure;
      if (!this.#syncing) {
        const covering = this.#tail;
        this.#syncing = this.#file.datasync().then(
          () => {
            if (round === this.#round) this.#durable = Math.max(this.#durable, covering);
            this.#syncing = null;
          },
          (error: unknown) => {
            // A failed fdatasync may have dropped the dirty pages it could not write; a later one
            // could then succeed without them. So the failure stands for good.
            this.#syncFailure = error instanceof Error ? error : new Error(String(error));
            this.#syncing = null;
            throw this.#syncFailure;
          },
        );
      }
      await this.#syncing;
    }
  }

  /** Appended bytes not yet known durable. */
  get unsyncedBytes(): number {
    return this.#tail - this.#durable;
  }

  /** Starts a new round at offset 0. Only once every record is applied and the data files are synced, with no append running. */
  async restart(): Promise<void> {
    while (this.#syncing) await this.#syncing.catch(() => {});
    this.#round++;
    const checkpoint: JournalRecord = { sequence: this.#nextSequence, kind: 'checkpoint', firstLba: 0, words: new BigUint64Array(0), tags: null, ciphertext: null };
    const head = encodeRecordHead(checkpoint, this.#volumeId);
    await this.#file.write(head, 0, head.length, 0);
    this.#tail = head.length;
    this.#durable = 0;
    this.#nextSequence++;
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  async #recordFollows(offset: number, sequence: bigint): Promise<boolean> {
    const next = await this.#readAt(offset);
    return next.ok && next.record.sequence === sequence;
  }

  async #readAt(offset: number): Promise<ReadResult> {
    const header = await readFully(this.#file, offset, RECORD_HEADER_BYTES);
    const parsed = header.length === RECORD_HEADER_BYTES ? parseRecordHeader(header) : null;
    if (!parsed) return { ok: false, reason: 'no record header', header: null, length: 0 };
    const length = recordBytes(parsed.kind, parsed.count, this.#sectorSize);
    const headBytes = RECORD_HEADER_BYTES + metadataBytes(parsed.kind, parsed.count);
    const head = await readFully(this.#file, offset, headBytes);
    if (head.length !== headBytes) return { ok: false, reason: 'record cut short', header: parsed, length };
    if (!checksumHolds(head, this.#volumeId)) return { ok: false, reason: 'checksum does not hold', header: parsed, length };
    let ciphertext: Buffer | null = null;
    if (parsed.kind === 'sectors') {
      ciphertext = await readFully(this.#file, offset + headBytes, length - headBytes);
      if (ciphertext.length !== length - headBytes) return { ok: false, reason: 'record cut short', header: parsed, length };
    }
    return { ok: true, record: decodeRecord(parsed, head, ciphertext), length };
  }
}
